"""How a value of a role's ``data`` is read: one rule per kind of value, for every reader.

Roles publish ``maint_result.data`` through Jinja, so a flag may arrive as ``True`` or as
``"true"``, a number as ``3`` or ``"3"``; a field may be missing or of the wrong shape. These
functions decide once what such a value means. None of them raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EMPTY: Mapping[str, Any] = {}


def flag(value: Any) -> bool:
    """A yes/no value: ``"true"``, ``"yes"`` and ``"1"`` (any case) are true, other text is
    false; anything else by Python's truth."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def maybe_flag(value: Any) -> bool | None:
    """A yes/no value that may be unknown: None (or a text ``none``, ``null`` or empty) is
    None, never false; anything else as :func:`flag`."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ("", "none", "null"):
        return None
    return flag(value)


def number(value: Any) -> float | None:
    """A number, or None when there is none (a flag is not a number)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def count(value: Any) -> int | None:
    """A whole number (a fraction is cut), or None."""
    found = number(value)
    return int(found) if found is not None else None


def text(value: Any) -> str | None:
    """A text, without surrounding blanks; None when empty or Ansible's ``NA``."""
    if value is None:
        return None
    found = str(value).strip()
    return found if found and found != "NA" else None


def mapping(value: Any) -> Mapping[str, Any]:
    """A mapping, or an empty one."""
    return value if isinstance(value, Mapping) else EMPTY


def mappings(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list (anything else in it is left out); empty when not a list."""
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def strings(value: Any) -> tuple[str, ...]:
    """The items of a list as texts; empty when not a list."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(str(item) for item in value)
