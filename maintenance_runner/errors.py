"""The runner's one error type: a message for a person and the exit code it means.

Every layer raises :class:`MaintError` (or a subclass) and never imports click; only ``cli/``
turns an error into a click exit (``cli/errors.py``). ``form`` says how the CLI shows it:

- ``"maint"``: each line prefixed with ``maint:`` on stderr (configuration problems, refusals);
- ``"error"``: click's ``Error: ...`` line;
- ``"usage"``: click's usage error (the command's usage line, then ``Error: ...``).

Exit codes: 1 a failure, 2 bad input (a file, a field, a flag; nothing was changed), 3 refused
by the gate (nothing was run).
"""

from __future__ import annotations

from typing import Literal

Form = Literal["maint", "error", "usage"]

EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_REFUSED = 3


class MaintError(Exception):
    """Something a person must act on; ``exit_code`` is what the process exits with."""

    exit_code: int = EXIT_FAILED
    form: Form = "error"

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def lines(self) -> list[str]:
        return self.message.splitlines() or [""]


class InputError(MaintError):
    """Bad input (a file, a field, a flag): exit 2, nothing changed."""

    exit_code = EXIT_INPUT


class UsageProblem(InputError):
    """A wrong argument of the command itself: shown with the command's usage line."""

    form = "usage"


class Refused(MaintError):
    """The gate refused: nothing was run, exit 3."""

    exit_code = EXIT_REFUSED
    form = "maint"
