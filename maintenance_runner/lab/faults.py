"""Seeded faults for the fleet lab: what each fault is, how a spec names them, what it leaves.

Pure: no podman, no files. ``maint lab up --faults SPEC`` parses the spec here, plants each
fault with its script in ``lab/fleet/faults/<name>.sh`` (run in the container after start) and
records the assignment as ``faults.json`` (``faults_record``), so a test can check that every
seeded fault shows up as a finding on its host and nowhere else.

Spec syntax (host numbers are 1-based positions in the fleet)::

    outdated:1,backup-stale:2,backup-corrupt:3,av-stale:2,rogue-uid0:4,unapproved-key:4
    rogue-uid0:4+5          several hosts      weak-sshd:2-4     a range     outdated:all
    none                    no fault at all (also the empty string)

or a YAML file (``@faults.yml``, or any existing path ending in ``.yml``/``.yaml``) mapping each
fault to its hosts: a number, ``all``, a ``"N-M"`` range, or a list of those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Paths on every lab host (the baseline script lab/fleet/setup.sh creates them).
BACKUP_REPOSITORY = "/srv/backup/lab"
BACKUP_PASSWORD_FILE = "/etc/maint/backup/lab.pass"
BACKUP_SOURCE = "/srv/data"
BACKUP_CANARY = "/srv/data/home/canary.txt"
ROGUE_ACCOUNT = "toor"


@dataclass(frozen=True)
class Fault:
    """One kind of seeded fault."""

    name: str
    task: str  # the preventive role that must report it
    findings: tuple[str, ...]  # the finding ids that role reports on a host with this fault
    description: str
    needs: str = ""  # what the lab must offer: "fixture", "backup" (restic), "clamav"

    @property
    def script(self) -> str:
        """The planting script, relative to lab/fleet/."""
        return f"faults/{self.name}.sh"

    def to_dict(self) -> dict[str, Any]:
        return {"fault": self.name, "task": self.task, "findings": list(self.findings)}


# In planting order: a host with both backup faults gets the stale repository, then damages it.
CATALOGUE: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault(
            "outdated",
            "patching",
            ("patching.updates_pending", "patching.security_updates_pending"),
            "maint-fixture and maint-fixture-tools 1.0 installed while 1.1 is in the repository",
            "fixture",
        ),
        Fault(
            "backup-stale",
            "backup_verify",
            ("backup_verify.stale_snapshot",),
            f"the newest snapshot of {BACKUP_REPOSITORY} is 30 days old",
            "backup",
        ),
        Fault(
            "backup-corrupt",
            "backup_verify",
            ("backup_verify.corruption",),
            f"64 bytes of the biggest data pack of {BACKUP_REPOSITORY} overwritten with zeros",
            "backup",
        ),
        Fault(
            "av-stale",
            "antivirus",
            ("antivirus.definitions_stale",),
            "ClamAV main and daily databases whose headers say they were built 30 days ago",
            "clamav",
        ),
        Fault(
            "rogue-uid0",
            "access_review",
            ("access_review.uid0", "access_review.unapproved_user"),
            f"an extra account '{ROGUE_ACCOUNT}' with user ID 0",
        ),
        Fault(
            "unapproved-key",
            "access_review",
            ("access_review.unapproved_key",),
            "an SSH key nobody approved in /root/.ssh/authorized_keys",
        ),
        Fault(
            "weak-sshd",
            "hardening",
            ("hardening.ssh_root_login",),
            "PermitRootLogin yes in the hardening drop-in, sshd reloaded",
        ),
    )
}

NO_FAULTS = ("", "none")


class FaultSpecError(ValueError):
    """A fault spec names an unknown fault or a host outside the fleet (one line, no newline)."""


def _hosts(selector: object, count: int, where: str) -> list[int]:
    """Host numbers of one selector: N, "all", "N-M", "N+M+..." or a list of those."""
    if isinstance(selector, bool):
        raise FaultSpecError(f"{where}: expected host numbers, got {selector!r}")
    if isinstance(selector, int):
        items: list[object] = [selector]
    elif isinstance(selector, str):
        text = selector.strip()
        if text == "all":
            return list(range(1, count + 1))
        items = [part.strip() for part in text.split("+")]
    elif isinstance(selector, list):
        return sorted({n for item in selector for n in _hosts(item, count, where)})
    else:
        raise FaultSpecError(f"{where}: expected host numbers, got {selector!r}")
    numbers: set[int] = set()
    for item in items:
        if isinstance(item, int):
            low = high = item
        else:
            first, sep, last = str(item).partition("-")
            try:
                low = int(first)
                high = int(last) if sep else low
            except ValueError:
                raise FaultSpecError(
                    f"{where}: {item!r} is not a host number, a range N-M or 'all'"
                ) from None
        if low > high:
            raise FaultSpecError(f"{where}: range {low}-{high} is empty")
        for number in (low, high):
            if not 1 <= number <= count:
                raise FaultSpecError(
                    f"{where}: host {number} is outside the fleet (hosts 1-{count})"
                )
        numbers.update(range(low, high + 1))
    return sorted(numbers)


def _fault(name: object, where: str) -> Fault:
    fault = CATALOGUE.get(str(name).strip())
    if fault is None:
        known = ", ".join(CATALOGUE)
        raise FaultSpecError(f"{where}: unknown fault {name!r} (known: {known})")
    return fault


def _ordered(by_host: Mapping[int, set[str]], count: int) -> dict[int, tuple[Fault, ...]]:
    return {
        n: tuple(f for f in CATALOGUE.values() if f.name in by_host.get(n, set()))
        for n in range(1, count + 1)
    }


def parse_spec(text: str, count: int) -> dict[int, tuple[Fault, ...]]:
    """Host number (1..count) -> its faults in planting order, from the command-line syntax."""
    by_host: dict[int, set[str]] = {}
    if text.strip() not in NO_FAULTS:
        for entry in text.split(","):
            entry = entry.strip()
            where = f"--faults: {entry!r}"
            name, sep, selector = entry.partition(":")
            if not sep or not selector.strip():
                raise FaultSpecError(
                    f"{where}: expected FAULT:HOSTS, e.g. weak-sshd:5 or av-stale:2-4"
                )
            fault = _fault(name, where)
            for number in _hosts(selector, count, where):
                by_host.setdefault(number, set()).add(fault.name)
    return _ordered(by_host, count)


def parse_mapping(data: object, count: int, source: str) -> dict[int, tuple[Fault, ...]]:
    """The same from a YAML document: {fault: hosts}; ``source`` names the file in errors."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FaultSpecError(f"{source}: expected a mapping of fault names to host numbers")
    by_host: dict[int, set[str]] = {}
    for name, selector in data.items():
        where = f"{source}: {name}"
        fault = _fault(name, where)
        for number in _hosts(selector, count, where):
            by_host.setdefault(number, set()).add(fault.name)
    return _ordered(by_host, count)


NEEDS = {
    "fixture": "the fixture repository: drop --no-fixture",
    "backup": "restic in the lab image: rebuild it with make lab-image",
    "clamav": "ClamAV in the lab image: rebuild it with make lab-image",
}


def check_needs(assignment: Mapping[int, Sequence[Fault]], available: Iterable[str]) -> None:
    """Refuse faults whose prerequisite (see NEEDS) the lab does not offer."""
    have = set(available)
    for number, faults in assignment.items():
        for fault in faults:
            if fault.needs and fault.needs not in have:
                raise FaultSpecError(
                    f"--faults: {fault.name} (host {number}) needs {NEEDS[fault.needs]}"
                )


def faults_record(
    names: Sequence[str], assignment: Mapping[int, Sequence[Fault]]
) -> dict[str, list[dict[str, Any]]]:
    """``faults.json``: every lab host name -> its faults (empty list for a fault-free host)."""
    return {
        name: [f.to_dict() for f in assignment.get(number, ())]
        for number, name in enumerate(names, start=1)
    }


def fault_finding_ids() -> frozenset[str]:
    """Every finding id some fault produces: a fault-free host shows none of them."""
    return frozenset(fid for f in CATALOGUE.values() for fid in f.findings)


def expected_findings(faults: Iterable[Mapping[str, Any] | Fault]) -> set[str]:
    """The finding ids a host with these faults (faults.json entries or Faults) must show."""
    ids: set[str] = set()
    for fault in faults:
        ids.update(fault.findings if isinstance(fault, Fault) else fault["findings"])
    return ids


def role_vars(
    approved_key_fingerprint: str, backup: bool = True, clamav: bool = True
) -> dict[str, Any]:
    """Inventory variables that let each role see the faults (and nothing else) on lab hosts.

    ``approved_key_fingerprint`` is the SHA256 fingerprint of the lab key the ``maint``
    account logs in with: the only approved key of the fleet. ``backup`` and ``clamav`` say
    whether the hosts have the lab's restic repository and ClamAV databases.
    """
    found: dict[str, Any] = {
        # access_review: the approved baseline of a lab host.
        "access_review_approved_users": ["maint"],
        "access_review_approved_admins": [],
        "access_review_approved_nopasswd": ["maint"],
        "access_review_approved_keys": {"maint": [approved_key_fingerprint]},
        "access_review_strict_keys": True,
    }
    if backup:
        # backup_verify: the restic repository every lab host has (lab/fleet/setup.sh).
        found["backup_verify_repositories"] = [
            {
                "name": "lab",
                "type": "restic",
                "repository": BACKUP_REPOSITORY,
                "password_file": BACKUP_PASSWORD_FILE,
                "expected_paths": [f"{BACKUP_SOURCE}/etc", BACKUP_CANARY],
                "canary_files": [BACKUP_CANARY],
                # A structure-only check cannot see a damaged data pack: read all of it
                # (the lab repository holds about 600 KiB).
                "read_data_subset": "100%",
            }
        ]
    if clamav:
        # antivirus: the lab has no route to the ClamAV mirrors and runs no ClamAV daemons
        # (200 clamd would not fit); the definitions age and a scan of the data are checked.
        found.update(
            {
                "antivirus_update": False,
                "antivirus_clamd_required": False,
                "antivirus_freshclam_required": False,
                "antivirus_scan_paths": [BACKUP_SOURCE],
            }
        )
    return found
