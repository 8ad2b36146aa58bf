"""``maint run``: run preventive tasks now, outside any window (ad hoc and for the lab)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import yaml

from maintenance_runner.ansible.collection import preventive_tasks
from maintenance_runner.ansible.execution import run_playbook
from maintenance_runner.cli.options import command, json_option
from maintenance_runner.cli.render import summarize


def _parse_extra(values: tuple[str, ...]) -> dict[str, object]:
    extra: dict[str, object] = {}
    for item in values:
        if item.startswith("@"):
            path = Path(item[1:])
            try:
                loaded = yaml.safe_load(path.read_text())
            except (OSError, yaml.YAMLError) as exc:
                raise click.BadParameter(f"{path}: {exc}", param_hint="--extra-vars") from exc
            if not isinstance(loaded, dict):
                raise click.BadParameter(f"{path}: expected a mapping", param_hint="--extra-vars")
            extra.update(loaded)
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE or @FILE", param_hint="-e")
        extra[key] = yaml.safe_load(value)
    return extra


@command("run")
@click.argument("tasks", nargs=-1, required=True, type=click.Choice(preventive_tasks()))
@click.option(
    "-i",
    "--inventory",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Inventory file or directory.",
)
@click.option("-l", "--limit", help="Host pattern to limit the run to.")
@click.option("--check", is_flag=True, help="Check mode: report what would change, change nothing.")
@click.option("--diff/--no-diff", default=True, show_default=True, help="Show diffs of changes.")
@click.option("-e", "--extra-vars", "extra", multiple=True, help="KEY=VALUE (YAML value) or @FILE.")
@json_option("Print the results as JSON.")
def run_command(
    tasks: tuple[str, ...],
    inventory: Path,
    limit: str | None,
    check: bool,
    diff: bool,
    extra: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run TASKS (in the order given) against the inventory and print each host's result.

    Exit status: 0 when every host finished its tasks, 1 when a task failed on a host,
    2 for bad input.
    """
    extravars = {"maint_tasks": list(tasks), **_parse_extra(extra)}
    outcome = run_playbook(
        "preventive", inventory, extravars=extravars, limit=limit, check=check, diff=diff
    )
    if as_json:
        json.dump([r.to_dict() for r in outcome.results], sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        mode = "check mode" if check else "applied"
        click.echo(f"maint run {' '.join(tasks)} ({mode}): {outcome.status}")
        click.echo(summarize(outcome.results))
    if not outcome.ok:
        sys.exit(1)
