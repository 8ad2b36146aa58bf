"""The options several commands share, each defined once, and how commands are declared.

``command`` and ``group`` declare click commands whose MaintErrors become one message and an
exit code (``cli/errors.py``). ``--config``, ``--at``, ``--json``, ``--key`` and ``--actor`` mean
the same everywhere; who acts is decided by :func:`current_actor` alone.
"""

from __future__ import annotations

import functools
import getpass
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.cli.errors import MaintCommand, MaintGroup
from maintenance_runner.config.load import DEFAULT_CONFIG, load_config
from maintenance_runner.core.clock import Clock, FixedClock, SystemClock, parse_instant
from maintenance_runner.errors import UsageProblem

F = TypeVar("F", bound=Callable[..., Any])

command = functools.partial(click.command, cls=MaintCommand)
group = functools.partial(click.group, cls=MaintGroup)

KEY_HELP = "Your SSH private key (ssh-keygen -Y sign); default $MAINT_KEY."


class Instant(click.ParamType):
    """An ISO 8601 instant (``2026-12-10T22:30+01:00``; no offset = UTC), parsed once here."""

    name = "INSTANT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            return parse_instant(str(value))
        except ValueError:
            self.fail(
                f"not an ISO 8601 instant: {value!r} "
                "(e.g. 2026-12-10T22:30+01:00; no offset = UTC)",
                param,
                ctx,
            )


INSTANT = Instant()


def at_option(help_text: str) -> Callable[[F], F]:
    """``--at INSTANT``: the command judges as of that instant (a datetime, or None for now)."""
    return click.option("--at", "at", type=INSTANT, metavar="INSTANT", help=help_text)


def clock_at(at: datetime | None) -> Clock:
    """The clock a command reads: stopped at ``--at``, else the real one."""
    return FixedClock(at) if at is not None else SystemClock()


config_option = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="The site description (maint.yml).",
)

# A subcommand's own --config; without it, the one given to its group (``maint log verify``).
inherited_config_option = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The site description (default: maint.yml, or the one given to the group command).",
)


def config_path_of(ctx: click.Context, given: str | None) -> str:
    """The subcommand's --config, else its group's, else maint.yml."""
    if given:
        return given
    return str((ctx.obj or {}).get("config_path", DEFAULT_CONFIG))


def open_actionlog(config_path: str) -> ActionLog:
    """The action log maint.yml names (the caller closes it, or uses it as a context)."""
    return ActionLog(load_config(config_path).actionlog_url)


def json_option(help_text: str = "Print JSON.") -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def key_option(*, required: bool = False, help_text: str = KEY_HELP) -> Callable[[F], F]:
    return click.option(
        "--key",
        "-k",
        envvar="MAINT_KEY",
        required=required,
        type=click.Path(path_type=Path),
        help=help_text,
    )


actor_option = click.option(
    "--actor", default=None, help="Who does it (default: $USER, else the login name)."
)


def current_actor(given: str | None = None) -> str:
    """Who acts: ``--actor``, else $USER, else the login name of the process."""
    actor = (given or os.environ.get("USER") or "").strip()
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        raise UsageProblem("who is acting? give --actor (USER is not set)") from None
