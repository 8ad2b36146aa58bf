"""Loading maint.yml: parse, validate with the models, then the checks across sections.

A bad file raises :class:`ConfigError`, which the command line shows as one line per problem
(``maint: maint.yml: windows[monthly-servers].timezone: unknown time zone 'X'``) and exits with
code 2. Checks that need calendars (ICS files that must parse) live here, so the models never
import the calendars that import them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from maintenance_runner.config.models import DEFAULT_POLICIES, KNOWN_TASKS, MaintConfig
from maintenance_runner.core.calendars import load_ics
from maintenance_runner.errors import InputError

DEFAULT_CONFIG = "maint.yml"


class ConfigError(InputError):
    """maint.yml is unusable: one line per problem, exit code 2."""

    form = "maint"

    def __init__(self, file: str | Path, problems: list[tuple[str, str]]) -> None:
        self.file = str(file)
        self.problems = problems
        super().__init__(self.format())

    def format(self) -> str:
        """One line per problem: ``FILE: WHERE: MESSAGE`` (what cannot be printed escaped)."""
        lines = []
        for where, message in self.problems:
            prefix = f"{self.file}: {_printable(where)}: " if where else f"{self.file}: "
            lines.append(prefix + _printable(message))
        return "\n".join(lines)


def _printable(text: str) -> str:
    """``text`` on one line: line breaks and other unprintable characters escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# --- loading ----------------------------------------------------------------------------------


def _where(loc: tuple[int | str, ...], raw: Any) -> str:
    """Turn a pydantic location into ``windows[monthly-servers].timezone``."""
    parts: list[str] = []
    node = raw
    for i, key in enumerate(loc):
        label: str
        if isinstance(key, int):
            name = None
            if isinstance(node, list) and 0 <= key < len(node) and isinstance(node[key], dict):
                name = node[key].get("name")
            label = f"[{name}]" if name else f"[{key}]"
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
        else:
            parent = loc[i - 1] if i else None
            keyed = parent in ("calendars", "patch_baselines", "patch_baseline_groups")
            label = f"[{key}]" if keyed else (f".{key}" if parts else str(key))
            node = node.get(key) if isinstance(node, dict) else None
        parts.append(label)
    return "".join(parts)


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key {error['loc'][-1]!r}"
    if kind == "missing":
        return "required field is missing"
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    value = error.get("input")
    if kind not in ("value_error", "assertion_error") and not isinstance(value, dict | list):
        msg = f"{msg} (got {value!r})"
    return msg


_TYPE_TAGS = frozenset({"date", "datetime", "str", "int", "float", "bool", "list", "tuple", "dict"})


def _clean_loc(loc: tuple[int | str, ...], raw: Any) -> tuple[int | str, ...]:
    """Drop the union-branch tags pydantic adds (``date``, ``function-after[...]``) to a location.

    A key that leads somewhere in the raw data is always kept.
    """
    kept: list[int | str] = []
    node = raw
    for key in loc:
        present = (isinstance(node, dict) and key in node) or (
            isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        )
        if present:
            kept.append(key)
            node = node[key]  # type: ignore[index]
            continue
        node = None
        if isinstance(key, str) and (key in _TYPE_TAGS or "[" in key):
            continue
        kept.append(key)
    return tuple(kept)


def validate_config(raw: Any, file: str | Path, base_dir: Path | None = None) -> MaintConfig:
    """Validate parsed YAML; raise ConfigError listing every problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(file, [("", "the top level must be a mapping")])
    try:
        config = MaintConfig.model_validate({**raw, "base_dir": base_dir or Path(".")})
    except ValidationError as exc:
        problems = []
        seen = set()
        for error in exc.errors():
            where = _where(_clean_loc(tuple(error["loc"]), raw), raw)
            message = _message(error)
            if where not in seen:  # one line per place (unions report each branch)
                seen.add(where)
                problems.append((where, message))
        raise ConfigError(file, problems) from None
    problems = _cross_check(config)
    if problems:
        raise ConfigError(file, problems)
    return config


def _cross_check(config: MaintConfig) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    names: set[str] = set()
    for window in config.windows:
        where = f"windows[{window.name}]"
        for field, message in window.coherence_problems():
            problems.append((f"{where}.{field}", message))
        if window.name in names:
            problems.append((f"{where}.name", f"duplicate window name {window.name!r}"))
        names.add(window.name)
        try:
            config.approvals.policy(window.change)
        except KeyError:
            known = ", ".join(sorted({*DEFAULT_POLICIES, *config.approvals.policies}))
            problems.append(
                (f"{where}.change", f"unknown change policy {window.change!r} (known: {known})")
            )
        for calendar in window.blackout:
            if calendar not in config.calendars:
                known = ", ".join(sorted(config.calendars)) or "none defined"
                problems.append(
                    (f"{where}.blackout", f"unknown calendar {calendar!r} (known: {known})")
                )
    for name, policy in config.approvals.policies.items():
        for group in policy.groups:
            if group not in config.approvals.groups and group != "emergency":
                problems.append((f"approvals.policies[{name}].groups", f"unknown group {group!r}"))
        for task in policy.tasks:
            if task not in KNOWN_TASKS:
                problems.append((f"approvals.policies[{name}].tasks", f"unknown task {task!r}"))
    problems += _baseline_problems(config)
    for name, spec in config.calendars.items():
        if spec.ics is not None:
            try:
                load_ics(config.resolve(spec.ics))
            except (OSError, ValueError) as exc:
                problems.append((f"calendars[{name}].ics", str(exc)))
    return problems


def _baseline_problems(config: MaintConfig) -> list[tuple[str, str]]:
    """Windows and groups name baselines that exist; every baseline is named by one of them."""
    problems: list[tuple[str, str]] = []
    known = ", ".join(sorted(config.patch_baselines)) or "none defined"
    named: set[str] = set()
    for window in config.windows:
        if window.patch_baseline is None:
            continue
        named.add(window.patch_baseline)
        if window.patch_baseline not in config.patch_baselines:
            problems.append(
                (
                    f"windows[{window.name}].patch_baseline",
                    f"unknown patch baseline {window.patch_baseline!r} (known: {known})",
                )
            )
    for group, name in config.patch_baseline_groups.items():
        named.add(name)
        if name not in config.patch_baselines:
            problems.append(
                (
                    f"patch_baseline_groups[{group}]",
                    f"unknown patch baseline {name!r} (known: {known})",
                )
            )
    for name in sorted(set(config.patch_baselines) - named):
        problems.append(
            (
                f"patch_baselines[{name}]",
                "named by no window (patch_baseline:) and no group (patch_baseline_groups:)",
            )
        )
    return problems


def load_config(path: str | Path | None = None) -> MaintConfig:
    """Read and validate maint.yml (``path`` or ./maint.yml)."""
    file = Path(path) if path else Path(DEFAULT_CONFIG)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, [("", "no such file (give one with --config)")]) from None
    except UnicodeDecodeError:
        raise ConfigError(file, [("", "not a text file (maint.yml is YAML in UTF-8)")]) from None
    except OSError as exc:
        raise ConfigError(file, [("", exc.strerror or str(exc))]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(file, [(where, f"not valid YAML: {problem}")]) from None
    return validate_config(raw, file, base_dir=file.parent)
