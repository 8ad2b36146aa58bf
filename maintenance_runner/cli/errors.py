"""The one place where a :class:`MaintError` becomes a click exit (see ``errors.py``)."""

from __future__ import annotations

from typing import IO, Any

import click

from maintenance_runner.errors import MaintError


class Shown(click.ClickException):
    """A MaintError on its way out: its exit code, and its lines shown in its form."""

    def __init__(self, error: MaintError) -> None:
        super().__init__(error.message)
        self.error = error
        self.exit_code = error.exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        if self.error.form == "maint":
            for line in self.error.lines():
                click.echo(f"maint: {line}", err=True)
        else:
            super().show(file)


def to_click(error: MaintError, ctx: click.Context | None) -> click.ClickException:
    if error.form == "usage":
        usage = click.UsageError(error.message, ctx)
        usage.exit_code = error.exit_code
        return usage
    return Shown(error)


class MaintCommand(click.Command):
    """A command that shows a MaintError raised below it as one message and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MaintError as exc:
            raise to_click(exc, ctx) from None


class MaintGroup(click.Group):
    """A group whose commands and subgroups convert MaintError the same way."""

    command_class = MaintCommand
    group_class = type  # subgroups are MaintGroups too

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MaintError as exc:
            raise to_click(exc, ctx) from None
