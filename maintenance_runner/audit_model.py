"""The onboarding audit, as data (pure: no I/O).

``maint audit`` runs every preventive role in check mode with fact gathering; this module turns
what came back (the gathered facts, the roles' ``maint_result`` as :class:`TaskResult` and the
raw ansible-runner events) into:

- an **asset register**: one :class:`AssetRow` per host, reachable or not;
- **risk notes**: findings grouped by finding id across hosts, in plain language, ranked by
  severity (:class:`RiskNote`);
- a **roadmap**: each finding sorted into *fix now*, *enters the preventive cycle* or *separate
  project* by ordered rules (:data:`DEFAULT_RULES`, first match wins).

Besides the roles' findings the audit adds its own (task ``audit``): unreachable hosts, roles
that could not finish, full disks, operating systems past or near their end of security support,
long uptimes. See docs/audit.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .clock import Clock
from .results import FACTS_TASK, SEVERITIES, Finding, TaskResult

AUDIT_TASK = "audit"

FIX_NOW = "fix now"
CYCLE = "enters the preventive cycle"
PROJECT = "separate project"
BUCKETS = (FIX_NOW, CYCLE, PROJECT)

DISK_FULL_PCT = 90.0
DISK_FILLING_PCT = 80.0
LONG_UPTIME_DAYS = 180
EOL_SOON_DAYS = 365

# Filesystems that hold no data of their own: never listed as disks.
_PSEUDO_FS_NAMES = """
autofs binfmt_misc bpf cgroup cgroup2 configfs debugfs devpts devtmpfs fusectl hugetlbfs mqueue
nsfs proc pstore ramfs rpc_pipefs securityfs squashfs sysfs tmpfs tracefs
"""
PSEUDO_FS = frozenset(_PSEUDO_FS_NAMES.split())
# Mount points of single files a container runtime binds in: never the name of a filesystem.
SYSTEM_PREFIXES = ("/etc/", "/run/", "/proc/", "/dev/", "/sys/")
CPU_VENDORS = frozenset({"GenuineIntel", "AuthenticAMD", "CentaurHauls", "HygonGenuine"})


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


# ---------------------------------------------------------------------------------------------
# Reading the event stream


def _event_data(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("event_data")
    return data if isinstance(data, Mapping) else {}


def gathered_facts(events: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """host -> ``ansible_facts`` of the "Gathering Facts" task (the first one that answered)."""
    facts: dict[str, dict[str, Any]] = {}
    for event in events:
        data = _event_data(event)
        if event.get("event") != "runner_on_ok" or data.get("task") != FACTS_TASK:
            continue
        host = str(data.get("host") or "")
        res = data.get("res") or {}
        gathered = res.get("ansible_facts") if isinstance(res, Mapping) else None
        if host and isinstance(gathered, Mapping) and host not in facts:
            facts[host] = dict(gathered)
    return facts


def unreachable_hosts(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """host -> why it could not be audited: unreachable, or fact gathering failed.

    A host that answered in another pass (the audit may run more than one) is not listed.
    """
    reasons: dict[str, str] = {}
    answered: set[str] = set()
    for event in events:
        kind = event.get("event")
        data = _event_data(event)
        host = str(data.get("host") or "")
        if not host:
            continue
        if kind == "runner_on_ok" and data.get("task") == FACTS_TASK:
            answered.add(host)
            continue
        res = data.get("res") or {}
        msg = str(res.get("msg") or res.get("stderr") or "") if isinstance(res, Mapping) else ""
        if kind == "runner_on_unreachable":
            reasons.setdefault(host, f"unreachable: {_first_line(msg) or 'no answer'}")
        elif kind == "runner_on_failed" and data.get("task") == FACTS_TASK:
            reasons.setdefault(host, f"fact gathering failed: {_first_line(msg) or 'no message'}")
    return {h: r for h, r in reasons.items() if h not in answered}


def _first_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.strip().split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def hosts_seen(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every host named by an event, in order of first appearance."""
    seen: dict[str, None] = {}
    for event in events:
        host = _event_data(event).get("host")
        if host:
            seen.setdefault(str(host), None)
    return list(seen)


def _instant(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


@dataclass(frozen=True)
class Timing:
    started_at: datetime
    duration_s: float


def task_timings(events: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Timing]:
    """(host, task) -> when the role started on the host and how long it took, from the events.

    Fact gathering and unreachable hosts are timed under the task ``audit``.
    """
    spans: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    for event in events:
        data = _event_data(event)
        host = str(data.get("host") or "")
        start, end = _instant(data.get("start")), _instant(data.get("end"))
        if not host or start is None:
            continue
        role = str(data.get("role") or "").rsplit(".", 1)[-1]
        task = role or (AUDIT_TASK if data.get("task") == FACTS_TASK else "")
        if not task:
            continue
        end = end or start
        key = (host, task)
        if key in spans:
            first, last = spans[key]
            spans[key] = (min(first, start), max(last, end))
        else:
            spans[key] = (start, end)
    return {
        key: Timing(first, round((last - first).total_seconds(), 3))
        for key, (first, last) in spans.items()
    }


def remaining_tasks(
    tasks: Sequence[str],
    results: Iterable[TaskResult],
    facts: Mapping[str, Any],
    unreachable: Mapping[str, str],
) -> dict[tuple[str, ...], list[str]]:
    """Tasks that never ran on a reachable host, grouped by the same remaining task list.

    In a playbook a role that fails stops the host: the roles after it never run. The audit runs
    those again (another pass, limited to the hosts concerned) so one broken role does not hide
    the rest of a host. Returns ``{(task, ...): [host, ...]}``; empty when nothing is left.
    """
    done: dict[str, set[str]] = {}
    for result in results:
        done.setdefault(result.host, set()).add(result.task)
    groups: dict[tuple[str, ...], list[str]] = {}
    for host in facts:
        if host in unreachable:
            continue
        ran = done.get(host, set())
        left = tuple(t for t in tasks if t not in ran)
        if left:
            groups.setdefault(left, []).append(host)
    return groups


# ---------------------------------------------------------------------------------------------
# The asset register


@dataclass(frozen=True)
class Disk:
    mount: str
    device: str
    fstype: str
    size_bytes: int
    used_bytes: int
    used_pct: float
    inodes_used_pct: float | None = None
    also_mounted_at: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdminAccount:
    name: str
    via: tuple[str, ...]
    nopasswd: bool = False


@dataclass(frozen=True)
class AssetRow:
    host: str
    reachable: bool
    reason: str = ""
    os: str | None = None
    os_family: str | None = None
    kernel: str | None = None
    architecture: str | None = None
    cpu_model: str | None = None
    cpu_sockets: int | None = None
    cpu_cores: int | None = None
    cpu_threads: int | None = None
    memory_mb: int | None = None
    swap_mb: int | None = None
    disks: tuple[Disk, ...] = ()
    uptime_days: float | None = None
    address: str | None = None
    virtualization: str | None = None
    pending_updates: int | None = None
    security_updates: int | None = None
    reboot_required: bool | None = None
    antivirus: str | None = None
    av_definitions_age_days: float | None = None
    last_good_backup: str | None = None
    backup_age_hours: float | None = None
    backup_state: str | None = None
    hardening_score: float | None = None
    hardening_noncompliant: int | None = None
    admin_accounts: tuple[AdminAccount, ...] = ()
    tasks: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    findings: Mapping[str, int] = field(default_factory=dict)

    @property
    def disk_max_used_pct(self) -> float | None:
        return max((d.used_pct for d in self.disks), default=None)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["disks"] = [asdict(d) for d in self.disks]
        out["admin_accounts"] = [asdict(a) for a in self.admin_accounts]
        out["disk_max_used_pct"] = self.disk_max_used_pct
        return out


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text if text and text != "NA" else None


def os_label(facts: Mapping[str, Any]) -> str | None:
    """``Debian 12.15 (bookworm)``, ``Microsoft Windows Server 2019 Datacenter 10.0.17763.0``."""
    if _text(facts.get("ansible_os_family")) == "Windows" or facts.get("ansible_os_name"):
        name = _text(facts.get("ansible_os_name")) or _text(facts.get("ansible_distribution"))
        version = _text(facts.get("ansible_distribution_version"))
        return " ".join(p for p in (name, version) if p) or None
    name = _text(facts.get("ansible_distribution"))
    version = _text(facts.get("ansible_distribution_version"))
    release = _text(facts.get("ansible_distribution_release"))
    label = " ".join(p for p in (name, version) if p)
    if release and version and release not in version:
        label += f" ({release})"
    return label or None


def cpu_model(facts: Mapping[str, Any]) -> str | None:
    """The processor model from ``ansible_processor`` (index, vendor, model triples on Linux)."""
    raw = facts.get("ansible_processor")
    if not isinstance(raw, list):
        return _text(raw)
    models = [
        str(p).strip()
        for p in raw
        if str(p).strip() and not str(p).strip().isdigit() and str(p).strip() not in CPU_VENDORS
    ]
    if not models:
        return None
    # The most frequent model (big.LITTLE machines list two): the first among equals.
    return max(dict.fromkeys(models), key=models.count)


def disks(facts: Mapping[str, Any]) -> tuple[Disk, ...]:
    """One entry per filesystem (device and size), pseudo filesystems left out.

    Bind mounts of one filesystem are folded into the entry of its first non-bind mount (else
    the shortest path outside /etc, /run, ...) and listed in ``also_mounted_at``. Used % counts
    the space reserved for root as used, so it reaches 100 when an ordinary process can write
    nothing more.
    """
    mounts = facts.get("ansible_mounts")
    if not isinstance(mounts, list):
        return ()
    groups: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    for mount in mounts:
        if not isinstance(mount, Mapping):
            continue
        size = _int(mount.get("size_total")) or 0
        if str(mount.get("fstype") or "") in PSEUDO_FS or size <= 0:
            continue
        groups.setdefault((str(mount.get("device") or ""), size), []).append(mount)
    out = []
    for (device, size), members in groups.items():

        def order(m: Mapping[str, Any]) -> tuple[bool, bool, int, str]:
            options = str(m.get("options") or "").split(",")
            path = str(m.get("mount") or "")
            return ("bind" in options, path.startswith(SYSTEM_PREFIXES), len(path), path)

        members = sorted(members, key=order)
        main = members[0]
        available = _int(main.get("size_available")) or 0
        used = max(size - available, 0)
        inode_total = _int(main.get("inode_total")) or 0
        inode_avail = _int(main.get("inode_available"))
        inodes = (
            round(100.0 * (inode_total - inode_avail) / inode_total, 1)
            if inode_total and inode_avail is not None
            else None
        )
        out.append(
            Disk(
                mount=str(main.get("mount") or ""),
                device=device,
                fstype=str(main.get("fstype") or ""),
                size_bytes=size,
                used_bytes=used,
                used_pct=round(100.0 * used / size, 1),
                inodes_used_pct=inodes,
                also_mounted_at=tuple(str(m.get("mount") or "") for m in members[1:]),
            )
        )
    return tuple(sorted(out, key=lambda d: d.mount))


def _facts_fields(facts: Mapping[str, Any]) -> dict[str, Any]:
    sockets = _int(facts.get("ansible_processor_count"))
    per_socket = _int(facts.get("ansible_processor_cores"))
    uptime = _float(facts.get("ansible_uptime_seconds"))
    ipv4 = facts.get("ansible_default_ipv4")
    address = _text(ipv4.get("address")) if isinstance(ipv4, Mapping) else None
    if address is None:
        addresses = facts.get("ansible_ip_addresses") or facts.get("ansible_all_ipv4_addresses")
        address = _text(addresses[0]) if isinstance(addresses, list) and addresses else None
    virt_type = _text(facts.get("ansible_virtualization_type"))
    virt_role = _text(facts.get("ansible_virtualization_role"))
    return {
        "os": os_label(facts),
        "os_family": _text(facts.get("ansible_os_family")),
        "kernel": _text(facts.get("ansible_kernel")),
        "architecture": _text(facts.get("ansible_architecture")),
        "cpu_model": cpu_model(facts),
        "cpu_sockets": sockets,
        "cpu_cores": sockets * per_socket if sockets and per_socket else per_socket,
        "cpu_threads": _int(facts.get("ansible_processor_vcpus"))
        or _int(facts.get("ansible_processor_nproc")),
        "memory_mb": _int(facts.get("ansible_memtotal_mb")),
        "swap_mb": _int(facts.get("ansible_swaptotal_mb")),
        "disks": disks(facts),
        "uptime_days": round(uptime / 86400, 1) if uptime is not None else None,
        "address": address,
        "virtualization": f"{virt_type} ({virt_role})" if virt_type and virt_role else virt_type,
    }


# --- what each role's maint_result.data says --------------------------------------------------


def patching_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """Pending updates (all, security) and the reboot state: apt/dnf ``pending`` or Windows."""
    if data.get("manager") == "win_updates":
        updates = data.get("updates") or {}
        values = list(updates.values()) if isinstance(updates, Mapping) else list(updates)
        security = sum(
            1
            for u in values
            if isinstance(u, Mapping)
            and any(
                "security" in str(c).lower() or "critical" in str(c).lower()
                for c in u.get("categories") or ()
            )
        )
        return {
            "pending_updates": _int(data.get("found")) if data.get("found") is not None else None,
            "security_updates": security,
            "reboot_required": bool(data.get("reboot_required")),
        }
    pending = data.get("pending")
    if not isinstance(pending, list):
        return {}
    return {
        "pending_updates": len(pending),
        "security_updates": sum(1 for p in pending if isinstance(p, Mapping) and p.get("security")),
        "reboot_required": bool(data.get("reboot_required")),
    }


def antivirus_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """A one-line antivirus state and the definitions age in days."""
    definitions = data.get("definitions") or {}
    age = _float(definitions.get("age_days")) if isinstance(definitions, Mapping) else None
    services = data.get("services") or {}
    if data.get("engine") == "defender":
        defender = (services.get("defender") or {}) if isinstance(services, Mapping) else {}
        version = _text(data.get("engine_version"))
        if version is None:
            state = "Microsoft Defender: status unavailable"
        else:
            realtime = "on" if defender.get("realtime") else "OFF"
            running = "running" if defender.get("running") else "service NOT running"
            state = f"Microsoft Defender {version}, {running}, real-time protection {realtime}"
        return {"antivirus": state, "av_definitions_age_days": age}
    if not data.get("engine_installed"):
        return {"antivirus": "not installed (ClamAV)", "av_definitions_age_days": None}
    clamd = (services.get("clamd") or {}) if isinstance(services, Mapping) else {}
    freshclam = (services.get("freshclam") or {}) if isinstance(services, Mapping) else {}
    parts = [f"ClamAV {_text(data.get('engine_version')) or '(version unknown)'}"]
    parts.append("daemon running" if clamd.get("running") else "daemon NOT running")
    parts.append("updater running" if freshclam.get("running") else "updater NOT running")
    if isinstance(definitions, Mapping) and not definitions.get("present"):
        parts.append("NO official definitions")
    return {"antivirus": ", ".join(parts), "av_definitions_age_days": age}


def _repository_good(repo: Mapping[str, Any]) -> bool:
    if repo.get("error") or repo.get("tool_missing") or not repo.get("snapshots"):
        return False
    check = repo.get("check") or {}
    restore = repo.get("restore") or {}
    if not isinstance(check, Mapping) or check.get("ok") is not True:
        return False
    if not isinstance(restore, Mapping) or restore.get("error"):
        return False
    return not restore.get("mismatches") and not restore.get("missing")


def backup_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The last good backup: the oldest "newest verified snapshot" across the host's
    repositories (the host's recovery point is as old as its weakest repository's)."""
    if "veeam_jobs" in data:
        jobs = [j for j in data.get("veeam_jobs") or () if isinstance(j, Mapping)]
        if not jobs:
            return {"backup_state": "no Veeam job found", "last_good_backup": None}
        good = [j for j in jobs if str(j.get("result")) in ("Success", "Warning")]
        bad = [str(j.get("name", "?")) for j in jobs if j not in good]
        times = [str(j["end_time"]) for j in good if j.get("end_time")]
        ages = [_float(j.get("age_hours")) for j in good]
        return {
            "backup_state": "verified" if not bad else "problems: " + ", ".join(bad),
            "last_good_backup": min(times) if times else None,
            "backup_age_hours": max((a for a in ages if a is not None), default=None),
        }
    repos = [r for r in data.get("repositories") or () if isinstance(r, Mapping)]
    if not repos:
        return {"backup_state": "not configured", "last_good_backup": None}
    good = [r for r in repos if _repository_good(r)]
    bad = [str(r.get("name", "?")) for r in repos if not _repository_good(r)]
    stamps = [(r.get("newest") or {}).get("time") for r in good]
    times = [str(t) for t in stamps if t]
    ages = [_float(r.get("recovery_point_age_hours")) for r in good]
    return {
        "backup_state": "verified" if not bad else "problems: " + ", ".join(bad),
        "last_good_backup": min(times) if times else None,
        "backup_age_hours": max((a for a in ages if a is not None), default=None),
    }


def hardening_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The hardening score as found (percent of enabled controls compliant)."""
    noncompliant = data.get("noncompliant")
    count = len(noncompliant) if isinstance(noncompliant, list) else None
    for key in ("score_before", "score"):
        score = data.get(key)
        if isinstance(score, Mapping) and score.get("percent") is not None:
            return {"hardening_score": _float(score["percent"]), "hardening_noncompliant": count}
    controls = data.get("controls")
    if isinstance(controls, Mapping) and isinstance(noncompliant, list):  # Windows: {ID: enabled}
        enabled = [c for c, on in controls.items() if on]
        if enabled:
            compliant = len([c for c in enabled if c not in noncompliant])
            return {
                "hardening_score": round(100.0 * compliant / len(enabled), 1),
                "hardening_noncompliant": count,
            }
    return {"hardening_noncompliant": count}


def admin_accounts(data: Mapping[str, Any]) -> list[AdminAccount]:
    """Who can administer the host: UID 0 accounts, admin group members, sudo rules for ALL."""
    via: dict[str, list[str]] = {}
    nopasswd: set[str] = set()

    def add(name: str, how: str) -> None:
        if name and how not in via.setdefault(name, []):
            via[name].append(how)

    for account in data.get("accounts") or ():
        if isinstance(account, Mapping) and account.get("uid") == 0 and "name" in account:
            add(str(account["name"]), "uid 0")
    members = data.get("admin_members")
    if isinstance(members, Mapping):
        for group, names in members.items():
            for name in names or ():
                add(str(name), f"group {group}")
    elif isinstance(members, list):  # Windows: local Administrators [{name, class, source}]
        for member in members:
            name = member.get("name") if isinstance(member, Mapping) else member
            add(str(name or ""), "Administrators")
    for name in data.get("admin_accounts") or ():
        if str(name) not in via:
            add(str(name), "admin group")
    for rule in data.get("sudo_rules") or ():
        if not isinstance(rule, Mapping) or not rule.get("all_commands"):
            continue
        for principal in rule.get("principals") or ():
            principal = str(principal)
            if principal.startswith(("%", "+")) or principal == "ALL":
                continue  # groups are covered by admin_members; netgroups are not accounts
            add(principal, "sudo ALL")
            if rule.get("nopasswd_all") or rule.get("nopasswd"):
                nopasswd.add(principal)
    return [AdminAccount(name, tuple(how), name in nopasswd) for name, how in sorted(via.items())]


def _role_fields(result: TaskResult) -> dict[str, Any]:
    data = result.data
    if result.task == "patching":
        return patching_fields(data)
    if result.task == "antivirus":
        return antivirus_fields(data)
    if result.task == "backup_verify":
        return backup_fields(data)
    if result.task == "hardening":
        return hardening_fields(data)
    if result.task == "access_review":
        return {"admin_accounts": tuple(admin_accounts(data))}
    return {}


def _severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(reversed(SEVERITIES), 0)
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return counts


def asset_row(
    host: str,
    facts: Mapping[str, Any] | None,
    results: Sequence[TaskResult],
    tasks: Sequence[str],
    reason: str = "",
    findings: Sequence[Finding] = (),
) -> AssetRow:
    """One register row. ``findings`` are every finding of the host (roles' and the audit's)."""
    if facts is None:
        return AssetRow(
            host=host,
            reachable=False,
            reason=reason or "no facts were gathered",
            tasks=dict.fromkeys(tasks, "not run"),
            findings=_severity_counts(findings),
        )
    fields: dict[str, Any] = _facts_fields(facts)
    statuses = dict.fromkeys(tasks, "not run")
    errors: dict[str, str] = {}
    for result in results:
        statuses[result.task] = result.status
        if result.error:
            errors[result.task] = result.error
        fields.update(_role_fields(result))
    return AssetRow(
        host=host,
        reachable=True,
        reason=reason,
        tasks=statuses,
        errors=errors,
        findings=_severity_counts(findings),
        **fields,
    )


# ---------------------------------------------------------------------------------------------
# The audit's own findings


@dataclass(frozen=True)
class Lifecycle:
    """End of free security support for one OS release (``distribution`` matches
    ``ansible_distribution`` exactly on Linux, or is a substring of the Windows product name)."""

    distribution: str
    version: str
    end: date


OS_LIFECYCLE: tuple[Lifecycle, ...] = (
    Lifecycle("Debian", "9", date(2022, 6, 30)),
    Lifecycle("Debian", "10", date(2024, 6, 30)),
    Lifecycle("Debian", "11", date(2026, 8, 31)),
    Lifecycle("Debian", "12", date(2028, 6, 30)),
    Lifecycle("Debian", "13", date(2030, 6, 30)),
    Lifecycle("Ubuntu", "18.04", date(2023, 5, 31)),
    Lifecycle("Ubuntu", "20.04", date(2025, 5, 31)),
    Lifecycle("Ubuntu", "22.04", date(2027, 4, 30)),
    Lifecycle("Ubuntu", "24.04", date(2029, 4, 30)),
    Lifecycle("CentOS", "7", date(2024, 6, 30)),
    Lifecycle("CentOS", "8", date(2021, 12, 31)),
    Lifecycle("RedHat", "7", date(2024, 6, 30)),
    Lifecycle("RedHat", "8", date(2029, 5, 31)),
    Lifecycle("RedHat", "9", date(2032, 5, 31)),
    Lifecycle("Rocky", "8", date(2029, 5, 31)),
    Lifecycle("Rocky", "9", date(2032, 5, 31)),
    Lifecycle("AlmaLinux", "8", date(2029, 3, 1)),
    Lifecycle("AlmaLinux", "9", date(2032, 5, 31)),
    Lifecycle("Windows Server 2008", "", date(2020, 1, 14)),
    Lifecycle("Windows Server 2012", "", date(2023, 10, 10)),
    Lifecycle("Windows Server 2016", "", date(2027, 1, 12)),
    Lifecycle("Windows Server 2019", "", date(2029, 1, 9)),
    Lifecycle("Windows Server 2022", "", date(2031, 10, 14)),
    Lifecycle("Windows 7", "", date(2020, 1, 14)),
    Lifecycle("Windows 10", "", date(2025, 10, 14)),
)


def os_end_of_support(
    facts: Mapping[str, Any], table: Sequence[Lifecycle] = OS_LIFECYCLE
) -> Lifecycle | None:
    """The lifecycle entry of the host's OS release, or None when the table does not know it."""
    product = str(facts.get("ansible_os_name") or facts.get("ansible_distribution") or "")
    distribution = str(facts.get("ansible_distribution") or "")
    version = str(facts.get("ansible_distribution_version") or "")
    major = str(facts.get("ansible_distribution_major_version") or version.split(".")[0])
    for entry in table:
        if not entry.version:
            if entry.distribution in product:
                return entry
            continue
        if entry.distribution != distribution:
            continue
        if entry.version in (version, major) or version.startswith(entry.version + "."):
            return entry
    return None


def _audit_finding(fid: str, severity: str, message: str, recommendation: str) -> Finding:
    return Finding(f"{AUDIT_TASK}.{fid}", severity, message, recommendation)


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"


def audit_findings(
    host: str,
    facts: Mapping[str, Any] | None,
    results: Sequence[TaskResult],
    reason: str,
    today: date,
    lifecycle: Sequence[Lifecycle] = OS_LIFECYCLE,
) -> list[Finding]:
    """What the audit itself notices about one host, besides the roles' findings."""
    if facts is None:
        return [
            _audit_finding(
                "unreachable",
                "high",
                f"{host} could not be audited ({reason or 'no facts were gathered'})",
                "Give the maintenance account SSH (or WinRM) access with sudo, check the "
                "inventory address and port, then audit the host again.",
            )
        ]
    out: list[Finding] = []
    for result in results:
        if result.status == "failed" and not result.findings:
            out.append(
                _audit_finding(
                    "task_failed",
                    "medium",
                    f"The {result.task} check could not finish on {host}: "
                    f"{_first_line(result.error, 200) or 'no message'}",
                    f"Fix the cause so the {result.task} check can run; until then this part "
                    "of the host is unknown.",
                )
            )
    for disk in disks(facts):
        size = _gib(disk.size_bytes)
        if disk.used_pct >= DISK_FULL_PCT:
            out.append(
                _audit_finding(
                    "disk_full",
                    "high",
                    f"{disk.mount} on {host} is {disk.used_pct:.0f}% full ({size})",
                    "Free space or extend the volume now: a full disk stops databases, logs "
                    "and updates.",
                )
            )
        elif disk.used_pct >= DISK_FILLING_PCT:
            out.append(
                _audit_finding(
                    "disk_filling",
                    "medium",
                    f"{disk.mount} on {host} is {disk.used_pct:.0f}% full ({size})",
                    "Plan more space or a clean-up before it fills up.",
                )
            )
    entry = os_end_of_support(facts, lifecycle)
    label = os_label(facts) or "the operating system"
    if entry is not None and entry.end < today:
        out.append(
            _audit_finding(
                "os_end_of_life",
                "high",
                f"{label} on {host} has had no security support since {entry.end.isoformat()}",
                "Plan an upgrade or replacement of the host: no update will fix new "
                "vulnerabilities in this release.",
            )
        )
    elif entry is not None and entry.end <= today + timedelta(days=EOL_SOON_DAYS):
        out.append(
            _audit_finding(
                "os_eol_soon",
                "medium",
                f"{label} on {host} loses security support on {entry.end.isoformat()}",
                "Plan the upgrade now, before the end of support.",
            )
        )
    uptime = _float(facts.get("ansible_uptime_seconds"))
    if uptime is not None and uptime >= LONG_UPTIME_DAYS * 86400:
        out.append(
            _audit_finding(
                "long_uptime",
                "low",
                f"{host} has run {uptime / 86400:.0f} days without a restart: kernel and library "
                "updates installed since then are not in effect",
                "Restart the host in a maintenance window.",
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# The roadmap


@dataclass(frozen=True)
class Rule:
    """Findings matching any of ``ids``, any of ``prefixes`` or severity ``min_severity`` and
    above go to ``bucket``; ``reason`` says why (``{task}`` is replaced by the finding's task)."""

    bucket: str
    reason: str
    ids: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    min_severity: str | None = None

    def matches(self, finding: Finding) -> bool:
        if finding.id in self.ids:
            return True
        if self.prefixes and finding.id.startswith(self.prefixes):
            return True
        return self.min_severity is not None and _rank(finding.severity) >= _rank(self.min_severity)


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        FIX_NOW,
        "a sign of compromise or an open door: act before anything else",
        ids=frozenset(
            {
                "antivirus.infected",
                "access_review.uid0",
                "access_review.empty_password",
                "access_review.unapproved_key",
                "access_review.appeared_during_window",
            }
        ),
    ),
    Rule(
        FIX_NOW,
        "the backups cannot be relied on: fix before any change is made to the host",
        ids=frozenset(
            {
                "backup_verify.no_snapshot",
                "backup_verify.corruption",
                "backup_verify.check_failed",
                "backup_verify.restore_mismatch",
                "backup_verify.restore_failed",
                "backup_verify.repository_unreachable",
                "backup_verify.verification_error",
                "backup_verify.job_failed",
            }
        ),
    ),
    Rule(
        FIX_NOW,
        "maint cannot check or maintain this part until it is fixed",
        ids=frozenset({"audit.unreachable", "audit.task_failed", "hardening.lockout_risk"}),
    ),
    Rule(
        FIX_NOW,
        "something is failing or about to fail in production",
        ids=frozenset({"audit.disk_full", "patching.service_down", "patching.post_check_failed"}),
    ),
    Rule(
        PROJECT,
        "needs an OS upgrade or a replacement host: plan it as its own project",
        ids=frozenset({"audit.os_end_of_life", "audit.os_eol_soon"}),
    ),
    Rule(
        PROJECT,
        "no verified backup exists: design the backups (what, where, how long) as a project, "
        "then backup_verify checks them every cycle",
        ids=frozenset({"backup_verify.not_configured"}),
    ),
    Rule(
        PROJECT,
        "a setting of the container host or hypervisor: agree it with whoever runs the platform",
        ids=frozenset({"hardening.sysctl_not_writable"}),
    ),
    Rule(
        PROJECT,
        "capacity: extend the volume or plan a clean-up; no preventive task does this",
        ids=frozenset({"audit.disk_filling"}),
    ),
    Rule(FIX_NOW, "critical: fix before the first maintenance window", min_severity="critical"),
    Rule(
        CYCLE,
        "the {task} task fixes this in the monthly maintenance window (planned, approved, "
        "reversible)",
        prefixes=("patching.", "antivirus.", "hardening."),
    ),
    Rule(
        CYCLE,
        "the {task} task checks this every cycle; the fix is agreed with the client and made in "
        "a maintenance window",
        prefixes=("access_review.", "backup_verify."),
    ),
    Rule(
        CYCLE,
        "restarted in a maintenance window (patching reboots when allowed)",
        ids=frozenset({"audit.long_uptime"}),
    ),
)
FALLBACK = Rule(CYCLE, "reviewed at every maintenance window")


def classify(finding: Finding, task: str, rules: Sequence[Rule] = DEFAULT_RULES) -> tuple[str, str]:
    """The roadmap bucket and the reason for one finding (first matching rule wins)."""
    for rule in rules:
        if rule.matches(finding):
            return rule.bucket, rule.reason.format(task=task)
    return FALLBACK.bucket, FALLBACK.reason.format(task=task)


# ---------------------------------------------------------------------------------------------
# Risk notes (and the roadmap, which is the same notes sorted by bucket)

# Plain-language titles for the finding ids that carry a host-specific message.
TITLES: dict[str, str] = {
    "audit.unreachable": "Hosts that could not be audited",
    "audit.task_failed": "Checks that could not finish",
    "audit.disk_full": "Disks more than 90% full",
    "audit.disk_filling": "Disks more than 80% full",
    "audit.os_end_of_life": "Operating system without security support",
    "audit.os_eol_soon": "Operating system losing security support within a year",
    "audit.long_uptime": "Hosts not restarted for months",
    "patching.security_updates_pending": "Security updates not installed",
    "patching.updates_pending": "Other updates not installed",
    "patching.reboot_pending": "Restart needed to finish updates",
    "patching.held_packages": "Packages held back from updates",
    "patching.service_down": "Service down after checks",
    "patching.post_check_failed": "Health check failing",
    "antivirus.engine_missing": "No antivirus installed",
    "antivirus.definitions_missing": "Antivirus without official definitions",
    "antivirus.definitions_stale": "Antivirus definitions out of date",
    "antivirus.update_failed": "Antivirus definitions cannot update",
    "antivirus.realtime_down": "Antivirus real-time protection off",
    "antivirus.updater_down": "Antivirus updater not running",
    "antivirus.infected": "Infected files found",
    "antivirus.scan_error": "Antivirus scan errors",
    "antivirus.scan_missing": "No antivirus scan on record",
    "antivirus.scan_overdue": "Antivirus scan overdue",
    "antivirus.quarantine_files": "Files waiting in quarantine",
    "backup_verify.not_configured": "No backup verified",
    "backup_verify.no_snapshot": "Backup repository without any backup",
    "backup_verify.stale_snapshot": "Newest backup older than the recovery point",
    "backup_verify.expected_path_missing": "Data missing from the backups",
    "backup_verify.corruption": "Backup data damaged",
    "backup_verify.check_failed": "Backup check failed",
    "backup_verify.check_locked": "Backup repository locked",
    "backup_verify.restore_mismatch": "Restored file differs from the original",
    "backup_verify.restore_failed": "Test restore failed",
    "backup_verify.canary_missing": "Canary file missing from the backups",
    "backup_verify.repository_unreachable": "Backup repository cannot be opened",
    "backup_verify.password_file_permissive": "Backup password file readable by others",
    "backup_verify.tool_missing": "Backup tool not installed",
    "backup_verify.verification_error": "Backup verification could not run",
    "backup_verify.job_failed": "Backup job failed",
    "backup_verify.job_warning": "Backup job ended with warnings",
    "access_review.uid0": "Second superuser account (UID 0)",
    "access_review.empty_password": "Account without a password",
    "access_review.unapproved_user": "Accounts not on the approved list",
    "access_review.password_age": "Old passwords",
    "access_review.system_account_shell": "System account that can log in",
    "access_review.unapproved_admin": "Administrators not on the approved list",
    "access_review.nopasswd": "Administrator rights without a password",
    "access_review.unapproved_key": "SSH keys not on the approved list",
    "access_review.weak_key": "Weak SSH keys",
    "access_review.stale_account": "Accounts unused for a long time",
    "access_review.never_logged_in": "Accounts never used",
    "access_review.unapproved_listener": "Network services not on the approved list",
    "access_review.appeared_during_window": "Access that appeared during the check",
    "access_review.not_checked": "Access items that could not be read",
    "hardening.lockout_risk": "Hardening would lock the maintenance account out",
    "hardening.sysctl_not_writable": "Kernel settings only the platform can change",
    "hardening.sshd_not_effective": "SSH hardening overridden",
}


@dataclass(frozen=True)
class HostFinding:
    host: str
    task: str
    finding: Finding

    @property
    def id(self) -> str:
        return self.finding.id

    @property
    def severity(self) -> str:
        return self.finding.severity


@dataclass(frozen=True)
class RiskNote:
    """One finding id across every host that has it, in plain language."""

    id: str
    task: str
    severity: str
    title: str
    hosts: tuple[str, ...]
    details: tuple[tuple[str, str], ...]  # (host, message)
    recommendation: str
    bucket: str = CYCLE  # the roadmap bucket and why (see DEFAULT_RULES)
    reason: str = ""

    @property
    def same_message(self) -> bool:
        return len({m for _, m in self.details}) <= 1


def _humanize(fid: str) -> str:
    task, _, check = fid.partition(".")
    words = (check or task).replace("_", " ")
    return f"{task.replace('_', ' ').capitalize()}: {words}" if check else words.capitalize()


def risk_notes(
    findings: Iterable[HostFinding], rules: Sequence[Rule] = DEFAULT_RULES
) -> list[RiskNote]:
    """Group by finding id, sort into the roadmap buckets; rank by severity, then fix now
    before the others, then by how many hosts share the risk, then by id."""
    grouped: dict[str, list[HostFinding]] = {}
    for item in findings:
        grouped.setdefault(item.id, []).append(item)
    notes = []
    for fid, items in grouped.items():
        severity = max((i.severity for i in items), key=_rank)
        messages = {i.finding.message for i in items}
        title = TITLES.get(fid) or (next(iter(messages)) if len(messages) == 1 else _humanize(fid))
        recommendation = next(
            (i.finding.recommendation for i in items if i.finding.recommendation), ""
        )
        hosts = tuple(sorted({i.host for i in items}))
        details = tuple(sorted((i.host, i.finding.message) for i in items))
        task = items[0].task
        bucket, reason = classify(Finding(fid, severity, title, recommendation), task, rules)
        notes.append(
            RiskNote(fid, task, severity, title, hosts, details, recommendation, bucket, reason)
        )
    notes.sort(key=lambda n: (-_rank(n.severity), BUCKETS.index(n.bucket), -len(n.hosts), n.id))
    return notes


def roadmap(notes: Iterable[RiskNote]) -> list[RiskNote]:
    """The risk notes in roadmap order: by bucket (BUCKETS order), then by severity."""
    return sorted(
        notes, key=lambda n: (BUCKETS.index(n.bucket), -_rank(n.severity), -len(n.hosts), n.id)
    )


# ---------------------------------------------------------------------------------------------
# The whole audit


@dataclass(frozen=True)
class Audit:
    generated_at: datetime
    tasks: tuple[str, ...]
    rows: tuple[AssetRow, ...]
    findings: tuple[HostFinding, ...]
    notes: tuple[RiskNote, ...]  # ranked by severity
    roadmap: tuple[RiskNote, ...]  # the same notes by bucket

    @property
    def reachable(self) -> list[AssetRow]:
        return [r for r in self.rows if r.reachable]

    @property
    def unreachable(self) -> list[AssetRow]:
        return [r for r in self.rows if not r.reachable]

    def severity_counts(self) -> dict[str, int]:
        """Host findings per severity, most severe first."""
        return _severity_counts(f.finding for f in self.findings)

    def bucket_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(BUCKETS, 0)
        for item in self.roadmap:
            counts[item.bucket] += len(item.hosts)
        return counts

    @property
    def complete(self) -> bool:
        """Every host answered and no task failed on any host."""
        return all(r.reachable and "failed" not in r.tasks.values() for r in self.rows)


def build_audit(
    facts: Mapping[str, Mapping[str, Any]],
    results: Sequence[TaskResult],
    unreachable: Mapping[str, str],
    tasks: Sequence[str],
    clock: Clock,
    *,
    hosts: Sequence[str] = (),
    rules: Sequence[Rule] = DEFAULT_RULES,
    lifecycle: Sequence[Lifecycle] = OS_LIFECYCLE,
) -> Audit:
    """Everything the audit writes, from what the run returned.

    ``hosts`` may name hosts that produced no event at all; every host in ``facts``,
    ``unreachable`` and ``results`` is included anyway. Results of task ``unknown`` (what the
    result reader makes of a host that failed outside any role) are left to ``unreachable``.
    """
    now = clock.now()
    everyone = dict.fromkeys([*hosts, *facts, *unreachable, *(r.host for r in results)])
    by_host: dict[str, list[TaskResult]] = {}
    for result in results:
        if result.task in tasks:
            by_host.setdefault(result.host, []).append(result)
    rows = []
    found: list[HostFinding] = []
    for host in sorted(everyone):
        host_facts = facts.get(host) if host not in unreachable else None
        host_results = by_host.get(host, [])
        reason = unreachable.get(host, "")
        if host_facts is None and not reason:
            reason = "no answer: the host produced no facts"
        own = audit_findings(host, host_facts, host_results, reason, now.date(), lifecycle)
        host_findings = [HostFinding(host, AUDIT_TASK, f) for f in own]
        if host_facts is not None:
            for result in host_results:
                host_findings += [HostFinding(host, result.task, f) for f in result.findings]
        found += host_findings
        rows.append(
            asset_row(
                host,
                host_facts,
                host_results,
                tasks,
                reason,
                [h.finding for h in host_findings],
            )
        )
    notes = risk_notes(found, rules)
    return Audit(
        generated_at=now,
        tasks=tuple(tasks),
        rows=tuple(rows),
        findings=tuple(found),
        notes=tuple(notes),
        roadmap=tuple(roadmap(notes)),
    )


# ---------------------------------------------------------------------------------------------
# Action log rows (plain dicts for ActionLog.add_results / append)


def actionlog_results(
    audit: Audit, timings: Mapping[tuple[str, str], Timing]
) -> list[dict[str, Any]]:
    """``task_results`` rows: one per host and role, plus ``audit`` for unreachable hosts.

    Check mode changes nothing, so ``changed`` is always false; a role that *would* change the
    host keeps ``status: changed`` and says so in ``diff_summary``.
    """
    rows: list[dict[str, Any]] = []
    for row in audit.rows:
        if not row.reachable:
            timing = timings.get((row.host, AUDIT_TASK))
            rows.append(
                {
                    "host": row.host,
                    "task": AUDIT_TASK,
                    "status": "unreachable",
                    "changed": False,
                    "started_at": timing.started_at if timing else audit.generated_at,
                    "duration_s": timing.duration_s if timing else 0.0,
                    "message": row.reason,
                    "diff_summary": None,
                }
            )
            continue
        for task, status in row.tasks.items():
            if status == "not run":
                continue
            timing = timings.get((row.host, task))
            rows.append(
                {
                    "host": row.host,
                    "task": task,
                    "status": status,
                    "changed": False,
                    "started_at": timing.started_at if timing else audit.generated_at,
                    "duration_s": timing.duration_s if timing else 0.0,
                    "message": row.errors.get(task) or None,
                    "diff_summary": "check mode: would change" if status == "changed" else None,
                }
            )
    return rows


def actionlog_findings(audit: Audit) -> list[dict[str, Any]]:
    """``findings`` rows, one per host and finding (the audit's own under task ``audit``)."""
    return [
        {
            "host": f.host,
            "task": f.task,
            "finding_id": f.id,
            "severity": f.severity,
            "message": f.finding.message,
            "recommendation": f.finding.recommendation or None,
        }
        for f in audit.findings
    ]


def actionlog_details(audit: Audit) -> list[dict[str, Any]]:
    """``result_details`` rows: the register row of each host (task ``audit``)."""
    return [
        {"host": row.host, "task": AUDIT_TASK, "data": row.to_dict(), "rollback": None}
        for row in audit.rows
    ]
