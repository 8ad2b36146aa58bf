"""The antivirus role's data: engine, definitions, services, update and scan (ClamAV, Defender)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maintenance_runner.core.roledata.values import flag, mapping, number, text

DEFENDER = "defender"


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
    definitions_stale: bool | None  # None: the role did not say
    services: tuple[Service, ...]  # sorted by name
    update: bool  # the role said anything about an update
    update_attempted: bool
    update_ok: bool | None  # None: the role did not say (a null ``ok`` is not a success)
    scan_ran: bool
    scan_clean: bool  # the scan found no infected file
    infected: int  # infected files of the scan, else threats Defender reports

    @property
    def defender(self) -> bool:
        return self.engine == DEFENDER

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)


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
    return AntivirusData(
        engine=text(data.get("engine")),
        engine_version=text(data.get("engine_version")),
        engine_installed=flag(data.get("engine_installed")),
        definitions=bool(definitions),
        definitions_present=flag(definitions.get("present", True)),
        definitions_age_days=number(definitions.get("age_days")),
        definitions_stale=flag(definitions["stale"]) if "stale" in definitions else None,
        services=tuple(
            _service(str(name), raw)
            for name, raw in sorted(services.items())
            if isinstance(raw, Mapping)
        ),
        update=bool(update),
        update_attempted=flag(update.get("attempted", True)),
        update_ok=flag(update["ok"]) if "ok" in update else None,
        scan_ran=flag(scan.get("ran")),
        scan_clean=not scan.get("infected"),
        infected=len(infected) if isinstance(infected, list) else 0,
    )
