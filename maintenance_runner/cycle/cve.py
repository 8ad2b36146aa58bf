"""Which hosts are exposed to which CVE, and since when (the use case; ``cve:`` in maint.yml).

After a plan's check run (and an audit's) the runner reads each Debian host's installed
packages over SSH (``playbooks/packages.yml``) and judges them on the control node with
debsecan against the feed maint.yml names. Each exposure is recorded the first time it is seen
(``sightings``, kind ``cve``) and each fix the first time a judgment no longer finds it (kind
``cve_fixed``). The judgment is recorded as a check run of task ``cve``: per host, the finding
``patching.cve_open`` (the CVEs, their fixing versions and where each fix stands in the plan,
and since when the host is exposed) and ``patching.cve_overdue`` for critical ones open longer
than ``critical_within``, which the follow-up rules turn into follow-ups.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from maintenance_runner.actionlog.plans import record_results
from maintenance_runner.actionlog.sightings import first_seen, record_sightings
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.ansible.execution import run_playbook
from maintenance_runner.config.models import CveConfig
from maintenance_runner.core.clock import Clock
from maintenance_runner.core.cve import Exposure, parse_detail, plan_status, status_text
from maintenance_runner.core.results import Finding, TaskResult
from maintenance_runner.errors import InputError

CVE = "cve"
CVE_FIXED = "cve_fixed"
TASK = "cve"
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


class CveError(InputError):
    """debsecan is missing or cannot read the feed: one line, exit 2."""


def severity(exposure: Exposure) -> str:
    """Debian's urgency, and critical for a high-urgency one that is remotely exploitable."""
    if exposure.urgency == "high" and exposure.remote:
        return "critical"
    return exposure.severity


def debsecan(packages: Iterable[list[str]], cve: CveConfig) -> list[Exposure]:
    """Run debsecan on the control node over ``packages`` (a host's, from packages.yml)."""
    program = shutil.which("debsecan")
    if program is None:
        raise CveError("debsecan is not installed on the control node (apt-get install debsecan)")
    with tempfile.TemporaryDirectory(prefix="maint-cve-") as tmp:
        status = Path(tmp) / "status"
        status.write_text(status_text(packages))
        feed = cve.feed if cve.feed.endswith("/") else cve.feed + "/"
        done = subprocess.run(
            [program, "--suite", cve.suite, "--source", feed, "--status", str(status),
             "--format", "detail", "--config", "/dev/null", "--history", str(Path(tmp) / "h")],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CveError(f"cve.feed {cve.feed}: debsecan failed: {last}")
    return parse_detail(done.stdout)


@dataclass
class Judgment:
    """What one judgment found: per host its exposures, since when, and its findings."""

    exposures: dict[str, list[Exposure]] = field(default_factory=dict)
    since: dict[str, dict[str, datetime]] = field(default_factory=dict)
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)
    run_id: int | None = None


def _pending(results: Iterable[TaskResult]) -> dict[str, dict[str, Mapping[str, Any]]]:
    found: dict[str, dict[str, Mapping[str, Any]]] = {}
    for result in results:
        if result.task == "patching":
            for pkg in result.data.get("pending") or []:
                if isinstance(pkg, Mapping) and pkg.get("name"):
                    found.setdefault(result.host, {})[str(pkg["name"])] = pkg
    return found


def host_findings(
    exposures: list[Exposure],
    since: Mapping[str, datetime],
    pending: Mapping[str, Mapping[str, Any]],
    now: datetime,
    critical_within: timedelta,
) -> list[Finding]:
    """``patching.cve_open`` (one per host) and ``patching.cve_overdue`` (critical ones open too
    long), each naming the CVEs, the fixing versions, where each fix stands, and since when."""
    if not exposures:
        return []
    ordered = sorted(exposures, key=lambda e: (-SEVERITY_RANK[severity(e)], e.cve, e.package))
    parts = []
    for e in ordered:
        seen = since.get(e.subject, now)
        parts.append(
            f"{e.cve} {e.package} {e.installed} ({severity(e)}; {plan_status(e, pending)}; "
            f"exposed since {seen:%Y-%m-%d})"
        )
    worst = severity(ordered[0])
    found = [
        Finding(
            id="patching.cve_open",
            severity=worst,
            message=f"{len(ordered)} known vulnerabilit{'y' if len(ordered) == 1 else 'ies'} "
            "open: " + "; ".join(parts),
            recommendation="Apply the updates that fix them (maint plan shows which are in, "
            "held or too new); follow the tracker for those without a fix yet.",
            evidence={
                "effective": ", ".join(sorted({e.cve for e in ordered})),
                "expected": "no open CVE with a fix available",
                "source": "debsecan",
            },
        )
    ]
    overdue = [
        e
        for e in ordered
        if severity(e) == "critical" and now - since.get(e.subject, now) > critical_within
    ]
    if overdue:
        found.append(
            Finding(
                id="patching.cve_overdue",
                severity="critical",
                message=f"critical CVE(s) open longer than {critical_within.days} day(s): "
                + "; ".join(
                    f"{e.cve} {e.package} since {since[e.subject]:%Y-%m-%d}" for e in overdue
                ),
                recommendation="Patch these hosts now, as an emergency change if no window "
                "comes soon enough.",
            )
        )
    return found


def judge(
    cve: CveConfig,
    log: ActionLog,
    clock: Clock,
    inventory: Path,
    targets: str,
    limit: str | None,
    results: Iterable[TaskResult],
    *,
    window: str | None = None,
    plan_uid: str | None = None,
) -> Judgment:
    """Judge the hosts, record what is new, and record the judgment as a check run."""
    results = list(results)
    outcome = run_playbook(
        "packages", inventory, extravars={"maint_targets": targets}, limit=limit, check=True
    )
    judgment = Judgment()
    pending = _pending(results)
    for result in outcome.results:
        if result.task != "packages" or result.status == "failed":
            continue
        if not result.data.get("supported"):
            judgment.unsupported.append(result.host)
            continue
        judgment.exposures[result.host] = debsecan(result.data.get("packages") or [], cve)
    hosts = sorted(judgment.exposures)
    record_sightings(
        log,
        CVE,
        [
            (
                host,
                e.subject,
                {
                    "severity": severity(e),
                    "urgency": e.urgency,
                    "fixed": e.fixed,
                    "installed": e.installed,
                },
            )
            for host, found in judgment.exposures.items()
            for e in found
        ],
        plan_uid=plan_uid,
    )
    opened = first_seen(log, CVE, hosts)
    fixed_before = first_seen(log, CVE_FIXED, hosts)
    now = clock.now()
    record_sightings(
        log,
        CVE_FIXED,
        [
            (host, subject, None)
            for host in hosts
            for subject in opened.get(host, {})
            if subject not in {e.subject for e in judgment.exposures[host]}
            and subject not in fixed_before.get(host, {})
        ],
        plan_uid=plan_uid,
    )
    run = log.start_run(window, "check", plan_uid=plan_uid, actor="maint cve")
    rows = []
    for host in hosts:
        judgment.since[host] = opened.get(host, {})
        judgment.findings[host] = host_findings(
            judgment.exposures[host],
            judgment.since[host],
            pending.get(host, {}),
            now,
            cve.critical_within,
        )
        data = {
            "open": [
                {"cve": e.cve, "package": e.package, "installed": e.installed,
                 "fixed": e.fixed, "severity": severity(e),
                 "since": judgment.since[host].get(e.subject, now).isoformat()}
                for e in judgment.exposures[host]
            ]
        }  # fmt: skip
        rows.append(TaskResult(host, TASK, "ok", tuple(judgment.findings[host]), data))
    record_results(log, run, rows, {}, now)
    log.finish_run(run, "done", f"cve: {len(hosts)} host(s) judged")
    judgment.run_id = int(run)
    return judgment
