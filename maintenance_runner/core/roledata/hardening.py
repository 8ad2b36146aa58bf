"""The hardening role's data: the control table and the score before and after the run.

Linux publishes ``controls`` as a table (one row per control with its ``status``) and the scores;
Windows publishes ``controls`` as ``{ID: enabled}`` and the list of controls not compliant as
found, without a score: its score as found is computed here, the same way the role computes
Linux's (compliant enabled controls / enabled controls).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maintenance_runner.core.roledata.values import count, flag, mapping, mappings, number, strings

PASSED = ("compliant", "fixed")
FAILED = ("noncompliant", "failed")


@dataclass(frozen=True)
class Control:
    id: str
    # compliant fixed noncompliant skipped failed disabled not_writable not_applicable
    status: str | None


@dataclass(frozen=True)
class Score:
    percent: float | None
    compliant: int | None
    enabled: int | None


@dataclass(frozen=True)
class HardeningData:
    check_mode: bool
    controls: tuple[Control, ...]  # Linux: the control table
    listed: bool  # data.controls is a table (Linux)
    enabled: tuple[str, ...] | None  # Windows: the enabled controls
    noncompliant: tuple[str, ...] | None  # the controls not compliant as found
    score: Score | None  # after the run
    score_before: Score | None  # as found

    @property
    def percent(self) -> float | None:
        """The score after the run."""
        return self.score.percent if self.score else None

    @property
    def percent_before(self) -> float | None:
        """The score as found: the role's, else (Windows) the enabled controls that were
        compliant over the enabled controls."""
        if self.score_before is not None and self.score_before.percent is not None:
            return self.score_before.percent
        if self.enabled and self.noncompliant is not None:
            compliant = [c for c in self.enabled if c not in self.noncompliant]
            return round(100.0 * len(compliant) / len(self.enabled), 1)
        return None

    @property
    def passed(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.controls if c.status in PASSED)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.controls if c.status in FAILED)

    @property
    def fixed(self) -> int:
        return sum(1 for c in self.controls if c.status == "fixed")


def _score(value: Any) -> Score | None:
    raw = mapping(value)
    if not raw:
        return None
    return Score(number(raw.get("percent")), count(raw.get("compliant")), count(raw.get("enabled")))


def read_hardening(data: Mapping[str, Any]) -> HardeningData:
    controls = data.get("controls")
    noncompliant = data.get("noncompliant")
    enabled = None
    if isinstance(controls, Mapping):
        enabled = tuple(str(c) for c, on in controls.items() if flag(on))
    return HardeningData(
        check_mode=flag(data.get("check_mode")),
        controls=tuple(
            Control(str(c.get("id")), str(c["status"]) if c.get("status") else None)
            for c in mappings(controls)
        ),
        listed=isinstance(controls, list | tuple),
        enabled=enabled,
        noncompliant=strings(noncompliant) if isinstance(noncompliant, list | tuple) else None,
        score=_score(data.get("score")),
        score_before=_score(data.get("score_before")),
    )
