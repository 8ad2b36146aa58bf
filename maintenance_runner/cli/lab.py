"""``maint lab``: lab hosts for trying maint (see ``lab/fleet.py`` for what a lab host is)."""

from __future__ import annotations

from pathlib import Path

import click

from maintenance_runner.cli.options import group
from maintenance_runner.lab import faults as lab_faults
from maintenance_runner.lab import vm as lab_vm
from maintenance_runner.lab.fleet import (
    DEFAULT_FAULTS,
    DEFAULT_WORKERS,
    down,
    status,
    up,
)


@group("lab")
def lab_group() -> None:
    """Lab hosts for trying maint: Podman containers with sshd on loopback ports, and one full
    VM host (maint lab vm)."""


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


@lab_group.group("vm")
def vm_group() -> None:
    """One full Debian 12 host under qemu: its own kernel, systemd, sshd on a loopback port."""


state_option = click.option(
    "--state",
    default=lab_vm.DEFAULT_STATE,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the VM's overlay disk, console log, lab key, seed and inventory are written.",
)


@vm_group.command("up")
@click.option(
    "--port",
    default=lab_vm.DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(1024, 65535),
    help="Loopback port forwarded to the VM's sshd.",
)
@click.option(
    "--prefix",
    default=lab_vm.DEFAULT_PREFIX,
    show_default=True,
    help="The VM's host name (and its name in the inventory).",
)
@click.option(
    "--fixture/--no-fixture",
    default=True,
    show_default=True,
    help="apt reads only the fixture repository (maint-fixture 1.1 installed), as on lab "
    "containers; --no-fixture keeps the Debian mirror.",
)
@click.option(
    "--accel",
    type=click.Choice(lab_vm.ACCELS),
    default="auto",
    show_default=True,
    help="auto: KVM when it answers, else software emulation (TCG).",
)
@click.option(
    "--memory",
    "memory_mb",
    default=lab_vm.DEFAULT_MEMORY_MB,
    show_default=True,
    type=click.IntRange(512, 65536),
    help="Memory of the VM in MiB.",
)
@click.option("--cpus", default=lab_vm.DEFAULT_CPUS, show_default=True, type=click.IntRange(1, 64))
@state_option
def vm_up(
    port: int, prefix: str, fixture: bool, accel: str, memory_mb: int, cpus: int, state: Path
) -> None:
    """Boot the VM host afresh from the cached image (make lab-vm-image) and write its inventory
    to STATE/hosts.yml. A VM of the same STATE is stopped first."""
    lab_vm.up(
        port=port,
        prefix=prefix,
        fixture=fixture,
        state=state,
        accel=accel,
        memory_mb=memory_mb,
        cpus=cpus,
        echo=click.echo,
    )


@vm_group.command("down")
@state_option
def vm_down(state: Path) -> None:
    """Stop the VM host of STATE and drop its overlay disk."""
    click.echo("VM host stopped" if lab_vm.down(state) else "no VM host running")


@vm_group.command("status")
@state_option
def vm_status(state: Path) -> None:
    """Show the VM host of STATE: name, whether it runs and sshd answers, port, accelerator."""
    click.echo(lab_vm.status(state) or "no VM host")
