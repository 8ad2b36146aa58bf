"""The antivirus role's data: engine, definitions, services, update and scan (ClamAV, Defender).

Two verdicts the report and the audit share are here:

- the definitions are **stale** when the role says so (ClamAV's ``definitions.stale``), else
  when their age is over the threshold the role published (``definitions.max_age_days``:
  Defender publishes its age and the threshold, no verdict);
- the definitions **update** is ``ok`` or ``failed`` when it was attempted, ``disabled`` when
  the role was told not to update (``antivirus_update: false``: ``update.enabled`` false, or,
  from a role that does not publish it, no update attempted outside check mode), and ``not
  attempted`` in check mode (a plan, an audit) where no update is ever made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maintenance_runner.core.roledata.values import flag, mapping, maybe_flag, number, text

DEFENDER = "defender"
UPDATE_OK, UPDATE_FAILED, UPDATE_DISABLED, NOT_ATTEMPTED = (
    "ok",
    "failed",
    "disabled",
    "not attempted",
)


@dataclass(frozen=True)
class Service:
    name: str
    running: bool
    required: bool  # a service the role expects to run (default: yes)
    realtime: bool  # Defender: real-time protection on


@dataclass(frozen=True)
class AntivirusData:
    engine: str | None
    engine_version: str | None
    engine_installed: bool
    definitions: bool  # the role said anything about the definitions
    definitions_present: bool  # official definitions are there (unless the role says not)
    definitions_age_days: float | None
    definitions_max_age_days: float | None  # the role's threshold, when it published one
    # None: neither the role's verdict nor an age and a threshold to judge by
    definitions_stale: bool | None
    services: tuple[Service, ...]  # sorted by name
    update: bool  # the role said anything about an update
    update_attempted: bool
    update_ok: bool | None  # None: not attempted, or the role did not say (never a failure)
    update_enabled: bool | None  # antivirus_update; None: the role did not publish it
    check_mode: bool
    scan_ran: bool
    scan_clean: bool  # the scan found no infected file
    infected: int  # infected files of the scan, else threats Defender reports

    @property
    def defender(self) -> bool:
        return self.engine == DEFENDER

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    @property
    def update_state(self) -> str | None:
        """``ok``, ``failed``, ``disabled`` or ``not attempted`` (see the module); None when
        the role said nothing about an update, or attempted one without saying how it went."""
        if not self.update:
            return None
        if self.update_enabled is False:
            return UPDATE_DISABLED
        if self.update_attempted:
            if self.update_ok is None:
                return None
            return UPDATE_OK if self.update_ok else UPDATE_FAILED
        if self.check_mode or self.update_enabled:
            return NOT_ATTEMPTED
        return UPDATE_DISABLED


def _service(name: str, raw: Mapping[str, Any]) -> Service:
    return Service(
        name=name,
        running=flag(raw.get("running")),
        required=flag(raw.get("required", True)),
        realtime=flag(raw.get("realtime")),
    )


def read_antivirus(data: Mapping[str, Any]) -> AntivirusData:
    definitions = mapping(data.get("definitions"))
    services = mapping(data.get("services"))
    update = mapping(data.get("update"))
    scan = mapping(data.get("scan"))
    infected = scan.get("infected") or data.get("threats") or []
    age = number(definitions.get("age_days"))
    limit = number(definitions.get("max_age_days"))
    stale = maybe_flag(definitions.get("stale"))
    if stale is None and age is not None and limit is not None:
        stale = age > limit
    return AntivirusData(
        engine=text(data.get("engine")),
        engine_version=text(data.get("engine_version")),
        engine_installed=flag(data.get("engine_installed")),
        definitions=bool(definitions),
        definitions_present=flag(definitions.get("present", True)),
        definitions_age_days=age,
        definitions_max_age_days=limit,
        definitions_stale=stale,
        services=tuple(
            _service(str(name), raw)
            for name, raw in sorted(services.items())
            if isinstance(raw, Mapping)
        ),
        update=bool(update),
        update_attempted=flag(update.get("attempted", True)),
        update_ok=maybe_flag(update.get("ok")),
        update_enabled=maybe_flag(update.get("enabled")),
        check_mode=flag(data.get("check_mode")),
        scan_ran=flag(scan.get("ran")),
        scan_clean=not scan.get("infected"),
        infected=len(infected) if isinstance(infected, list) else 0,
    )
