"""``maint lab``: lab hosts for trying maint (see ``lab/fleet.py`` for what a lab host is)."""

from __future__ import annotations

from pathlib import Path

import click

from maintenance_runner.cli.options import group
from maintenance_runner.lab import faults as lab_faults
from maintenance_runner.lab.fleet import (
    DEFAULT_FAULTS,
    DEFAULT_WORKERS,
    down,
    status,
    up,
)


@group("lab")
def lab_group() -> None:
    """Lab hosts for trying maint: Podman containers with sshd on loopback ports."""


@lab_group.command("up")
@click.option("-n", "--count", default=1, show_default=True, type=click.IntRange(1, 500))
@click.option("--base-port", default=2200, show_default=True, type=click.IntRange(1024, 65000))
@click.option("--prefix", default="maint-lab", show_default=True, help="Container name prefix.")
@click.option(
    "--fixture/--no-fixture",
    default=True,
    show_default=True,
    help="Serve the fixture apt repository (maint-fixture 1.1, or 1.0 with the fault outdated).",
)
@click.option(
    "--faults",
    default=DEFAULT_FAULTS,
    show_default=True,
    help="Seeded faults: FAULT:HOSTS,... (HOSTS: N, N-M, N+M or all; 1-based), 'none', or "
    "@FILE.yml mapping each fault to its hosts. Faults: " + ", ".join(lab_faults.CATALOGUE) + ".",
)
@click.option(
    "--workers",
    default=DEFAULT_WORKERS,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Podman calls run at once while starting the fleet.",
)
@click.option(
    "--state",
    default=".maint/lab",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the lab key, seed, fixture repository, inventory and faults.json are written.",
)
def lab_up(
    count: int, base_port: int, prefix: str, fixture: bool, faults: str, workers: int, state: Path
) -> None:
    """Start COUNT lab hosts and write their inventory to STATE/hosts.yml.

    Every host starts in good order (see lab/fleet/setup.sh); --faults then plants seeded faults
    and STATE/faults.json records them: host name -> [{fault, task, findings}].
    """
    up(count, base_port, prefix, fixture, state, faults, workers, echo=click.echo)


@lab_group.command("down")
@click.option("--prefix", help="Only the lab hosts started with this --prefix.")
def lab_down(prefix: str | None) -> None:
    """Remove the lab hosts (all of them unless --prefix is given)."""
    click.echo(f"removed {down(prefix)} lab host(s)")


@lab_group.command("status")
def lab_status() -> None:
    """List the lab hosts and their SSH ports."""
    click.echo(status() or "no lab hosts")
