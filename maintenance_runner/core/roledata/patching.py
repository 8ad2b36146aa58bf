"""The patching role's data: pending and applied packages, Windows updates, reboot state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maintenance_runner.core.roledata.values import count, flag, mapping, mappings, strings, text

WINDOWS_MANAGER = "win_updates"
# Windows Update categories whose updates count as security updates.
SECURITY_CATEGORIES = ("security", "critical")


@dataclass(frozen=True)
class Package:
    """A package pending or applied (apt, dnf). ``name`` is empty when the role gave none."""

    name: str
    version: str | None  # the candidate (pending) or the version installed (applied)
    security: bool


@dataclass(frozen=True)
class WindowsUpdate:
    id: str  # the key of data.updates (or the entry's id)
    categories: tuple[str, ...]

    @property
    def security(self) -> bool:
        """A security or critical update."""
        return any(word in c.lower() for c in self.categories for word in SECURITY_CATEGORIES)


@dataclass(frozen=True)
class PatchingData:
    manager: str | None
    check_mode: bool
    pending: tuple[Package, ...] | None  # None: the role listed none (Windows)
    applied: tuple[Package, ...]
    updates: tuple[WindowsUpdate, ...]  # Windows: found (or installed) updates
    updates_listed: bool  # data.updates was a mapping of id -> update
    found: int | None  # Windows: updates found
    installed: int | None  # Windows: updates installed
    reboot_required: bool
    rebooted: bool
    services_down: bool  # a post-patch service check failed
    post_checks_failed: bool  # a post-patch command failed

    @property
    def windows(self) -> bool:
        return self.manager == WINDOWS_MANAGER

    @property
    def applied_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.applied if p.name)


def _package(raw: Mapping[str, Any]) -> Package:
    version = raw.get("candidate") or raw.get("after")
    return Package(
        name=str(raw.get("name") or ""),
        version=str(version) if version else None,
        security=flag(raw.get("security")),
    )


def packages(value: Any) -> tuple[Package, ...]:
    """Package entries of a list (``pending``, ``applied``, a plan's ``pending``)."""
    return tuple(_package(p) for p in mappings(value))


def _updates(value: Any) -> tuple[WindowsUpdate, ...]:
    if isinstance(value, Mapping):
        entries = [(str(key), mapping(raw)) for key, raw in value.items()]
    else:
        entries = [(str(raw.get("id") or ""), raw) for raw in mappings(value)]
    return tuple(WindowsUpdate(key, strings(raw.get("categories"))) for key, raw in entries)


def read_patching(data: Mapping[str, Any]) -> PatchingData:
    pending = data.get("pending")
    return PatchingData(
        manager=text(data.get("manager")),
        check_mode=flag(data.get("check_mode")),
        pending=packages(pending) if isinstance(pending, list | tuple) else None,
        applied=packages(data.get("applied")),
        updates=_updates(data.get("updates")),
        updates_listed=isinstance(data.get("updates"), Mapping),
        found=count(data.get("found")),
        installed=count(data.get("installed")),
        reboot_required=flag(data.get("reboot_required")),
        rebooted=flag(data.get("rebooted")),
        services_down=bool(data.get("services_down")),
        post_checks_failed=bool(data.get("post_checks_failed")),
    )
