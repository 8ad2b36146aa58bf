"""Risk notes and the roadmap (pure): findings grouped by id across hosts, in plain language,
each sorted into *fix now*, *enters the preventive cycle* or *separate project* by ordered rules
(:data:`DEFAULT_RULES`, first match wins)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from maintenance_runner.core.results import SEVERITIES, Finding

FIX_NOW = "fix now"
CYCLE = "enters the preventive cycle"
PROJECT = "separate project"
BUCKETS = (FIX_NOW, CYCLE, PROJECT)


def rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


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
        return self.min_severity is not None and rank(finding.severity) >= rank(self.min_severity)


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
        severity = max((i.severity for i in items), key=rank)
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
    notes.sort(key=lambda n: (-rank(n.severity), BUCKETS.index(n.bucket), -len(n.hosts), n.id))
    return notes


def roadmap(notes: Iterable[RiskNote]) -> list[RiskNote]:
    """The risk notes in roadmap order: by bucket (BUCKETS order), then by severity."""
    return sorted(
        notes, key=lambda n: (BUCKETS.index(n.bucket), -rank(n.severity), -len(n.hosts), n.id)
    )
