"""The ``maint`` command: a click group that each concern of the runner extends."""

from __future__ import annotations

import click

from . import __version__
from .commands_audit import audit_command
from .commands_config import config_group
from .commands_cron import cron_group
from .commands_followups import followups_group
from .commands_log import log_group
from .commands_plan import (
    apply_command,
    approve_command,
    plan_command,
    reject_command,
    rollback_command,
    show_command,
)
from .commands_report import report_command
from .commands_run import run_command
from .commands_tick import tick_command
from .commands_windows import windows_group
from .lab import lab_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="maint")
def main() -> None:
    """Preventive IT maintenance as code.

    Runs the maint.preventive roles (patching, antivirus, backup verification, access review,
    hardening) against an inventory and reports each host's structured result.
    """


main.add_command(run_command)
main.add_command(lab_group)
main.add_command(config_group)
main.add_command(windows_group)
main.add_command(log_group)
main.add_command(followups_group)
main.add_command(cron_group)
for _command in (
    plan_command,
    show_command,
    approve_command,
    reject_command,
    apply_command,
    rollback_command,
):
    main.add_command(_command)
main.add_command(report_command)
main.add_command(audit_command)
main.add_command(tick_command)
