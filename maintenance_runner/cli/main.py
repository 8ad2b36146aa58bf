"""The ``maint`` command: a click group that each concern of the runner extends.

The subcommands are imported when they are run (or listed by ``--help``), not when ``maint``
starts: each one pulls in only its own modules. ``maint apply`` does not load the report and
audit code, and a cron ``maint tick`` starts faster.
"""

from __future__ import annotations

import importlib

import click

from maintenance_runner import __version__
from maintenance_runner.cli.errors import MaintGroup

# name -> "module:attribute", in the order ``maint --help`` lists them
COMMANDS: dict[str, str] = {
    "run": "run:run_command",
    "lab": "lab:lab_group",
    "config": "config:config_group",
    "windows": "windows:windows_group",
    "log": "log:log_group",
    "followups": "followups:followups_group",
    "cron": "cron:cron_group",
    "plan": "plan:plan_command",
    "show": "plan:show_command",
    "approve": "plan:approve_command",
    "reject": "plan:reject_command",
    "apply": "plan:apply_command",
    "rollback": "plan:rollback_command",
    "report": "report:report_command",
    "audit": "audit:audit_command",
    "tick": "tick:tick_command",
}


class LazyGroup(MaintGroup):
    """A group whose subcommands are imported by name when first needed."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(name for name in super().list_commands(ctx) if name not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = self.lazy[cmd_name].split(":")
        module = importlib.import_module(f"maintenance_runner.cli.{module_name}")
        command = getattr(module, attribute)
        if not isinstance(command, click.Command) or command.name != cmd_name:
            raise RuntimeError(f"{module_name}.{attribute} is not the {cmd_name!r} command")
        return command


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "-V", "--version", prog_name="maint")
def main() -> None:
    """Preventive IT maintenance as code.

    Runs the maint.preventive roles (patching, antivirus, backup verification, access review,
    hardening) against an inventory and reports each host's structured result.
    """
