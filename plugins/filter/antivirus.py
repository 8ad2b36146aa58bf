# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Filters that turn the antivirus role's probes into result-contract findings."""

from __future__ import annotations

import re

from ansible_collections.maint.preventive.plugins.module_utils.changes import (
    change,
    file_change,
)
from ansible_collections.maint.preventive.plugins.module_utils.changes import (
    skip_controls as skip_controls_of,
)
from ansible_collections.maint.preventive.plugins.module_utils.findings import finder

DOCUMENTATION_NOTE = "See docs/roles/antivirus.md for the finding ids."


_finding = finder("antivirus")


def _update_findings(update):
    update = update or {}
    if not update.get("attempted") or update.get("ok"):
        return []
    where = update.get("mirror") or "the ClamAV mirrors"
    return [
        _finding(
            "update_failed",
            "high",
            "Definitions update failed (%s, rc %s, from %s): %s"
            % (
                update.get("tool", "update"),
                update.get("rc"),
                where,
                update.get("message") or "no output",
            ),
            "Restore the host's route to the definitions mirror (or set a reachable private mirror)"
            " and run the update again; until then the definitions only get older.",
        )
    ]


def _infected_findings(scan, origin):
    findings = []
    for item in (scan or {}).get("infected", []):
        moved = item.get("moved_to")
        findings.append(
            _finding(
                "infected",
                "critical",
                "Infected file %s: %s (%s%s)"
                % (
                    item.get("path"),
                    item.get("signature"),
                    origin,
                    ", moved to %s" % moved if moved else "",
                ),
                "Isolate the host, confirm the detection, remove or quarantine the file and find"
                " how it arrived; treat it as a security incident.",
            )
        )
    return findings


def antivirus_findings(
    info,
    services=None,
    update=None,
    scan_rc=None,
    max_age_days=2,
    max_scan_age_days=7,
    install_pending=False,
    quarantine_dir="",
):
    """Findings for one Linux host's ClamAV state.

    ``info`` is the clamav_info module result, ``services`` maps a role (``clamd``,
    ``freshclam``) to ``{name, running, required}``, ``update`` is the definitions update record,
    ``scan_rc`` the exit code of this run's clamscan (``None`` when no scan ran).
    """
    info = info or {}
    findings = []
    if not info.get("engine_installed"):
        findings.append(
            _finding(
                "engine_missing",
                "high",
                "ClamAV is not installed (clamscan not found)"
                + (": the run would install it" if install_pending else ""),
                "Install clamav, clamav-freshclam and clamav-daemon (antivirus_install: true).",
            )
        )
    defs = info.get("definitions") or {}
    if not defs.get("present"):
        custom = ", ".join(defs.get("custom") or []) or "none"
        findings.append(
            _finding(
                "definitions_missing",
                "high",
                "No official ClamAV definitions (main/daily .cvd or .cld) in %s;"
                " custom signatures: %s"
                % (defs.get("database_dir") or "the database directory", custom),
                "Run freshclam against a reachable mirror (or a private mirror) so the host gets"
                " the official definitions; custom signatures alone detect almost nothing.",
            )
        )
    elif defs.get("age_days") is not None and defs["age_days"] > max_age_days:
        findings.append(
            _finding(
                "definitions_stale",
                "high",
                "ClamAV definitions %s (version %s, built %s) are %.1f days old (limit %s)"
                % (
                    defs.get("path"),
                    defs.get("version"),
                    defs.get("build_time"),
                    defs["age_days"],
                    max_age_days,
                ),
                "Fix the definitions update (freshclam, mirror reachability) and confirm a fresh"
                " daily database arrives.",
            )
        )
    findings.extend(_update_findings(update))
    for role, state in sorted((services or {}).items()):
        if not state.get("required") or state.get("running"):
            continue
        if role == "clamd":
            findings.append(
                _finding(
                    "realtime_down",
                    "high",
                    "The ClamAV daemon (service %s) is not running" % state.get("name"),
                    "Start the service and enable it at boot; it needs loaded definitions"
                    " to start.",
                )
            )
        else:
            findings.append(
                _finding(
                    "updater_down",
                    "medium",
                    "The definitions updater (service %s) is not running" % state.get("name"),
                    "Start and enable the freshclam service (or schedule freshclam) so definitions"
                    " stay current between maintenance windows.",
                )
            )
    scan = info.get("scan") or {}
    last = info.get("last_scan") or {}
    if scan:
        findings.extend(
            _infected_findings(scan, "on-demand scan, log %s" % (scan.get("log") or "none"))
        )
        if scan_rc not in (None, 0, 1) or scan.get("errors"):
            findings.append(
                _finding(
                    "scan_error",
                    "medium",
                    "The on-demand scan reported errors (rc %s): %s"
                    % (scan_rc, " | ".join(scan.get("errors") or []) or "see the log"),
                    "Check the scan paths and the definitions, then scan again.",
                )
            )
    elif last:
        findings.extend(
            _infected_findings(
                last, "last scan ending %s, log %s" % (last.get("end"), last.get("log"))
            )
        )
    newest = scan or last
    if not newest:
        findings.append(
            _finding(
                "scan_missing",
                "low",
                "No ClamAV scan result found in the scan logs",
                "Schedule a regular scan (antivirus_scan_paths, or a clamscan cron job"
                " with --log).",
            )
        )
    elif newest.get("age_days") is not None and newest["age_days"] > max_scan_age_days:
        findings.append(
            _finding(
                "scan_overdue",
                "medium",
                "The last ClamAV scan (log %s) is %.1f days old (limit %s)"
                % (newest.get("log"), newest["age_days"], max_scan_age_days),
                "Check the scheduled scan and run one now.",
            )
        )
    quarantined = info.get("quarantine") or []
    if quarantined:
        findings.append(
            _finding(
                "quarantine_files",
                "medium",
                "%d file(s) in quarantine %s: %s"
                % (len(quarantined), quarantine_dir, ", ".join(q["path"] for q in quarantined)),
                "Review the quarantined files; delete them once the incident is closed.",
            )
        )
    return findings


def _flag(value):
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _age(value):
    try:
        age = int(value)
    except (TypeError, ValueError):
        return None
    # Defender reports 4294967295 (uint32 -1) for "never".
    return None if age >= 4294967295 or age < 0 else age


def antivirus_windows_findings(
    status, threats=None, update=None, max_age_days=2, max_scan_age_days=7
):
    """Findings for one Windows host from Get-MpComputerStatus and Get-MpThreatDetection."""
    status = status or {}
    findings = []
    if not status:
        findings.append(
            _finding(
                "engine_missing",
                "high",
                "Microsoft Defender status is not available"
                " (Get-MpComputerStatus returned nothing)",
                "Check that Microsoft Defender is installed and not replaced by another product.",
            )
        )
        return findings + _update_findings(update)
    for key, what in (
        ("AMServiceEnabled", "the Defender antimalware service"),
        ("AntivirusEnabled", "Defender antivirus"),
        ("RealTimeProtectionEnabled", "Defender real-time protection"),
    ):
        if not _flag(status.get(key)):
            findings.append(
                _finding(
                    "realtime_down",
                    "high",
                    "%s is off (%s is false)" % (what.capitalize(), key),
                    "Turn it back on (Set-MpPreference or group policy) and find out"
                    " what disabled it.",
                )
            )
    sig_age = _age(status.get("AntivirusSignatureAge"))
    if sig_age is None or sig_age > max_age_days:
        findings.append(
            _finding(
                "definitions_stale",
                "high",
                "Defender signatures %s (last updated %s) are %s days old (limit %s)"
                % (
                    status.get("AntivirusSignatureVersion"),
                    status.get("AntivirusSignatureLastUpdated"),
                    "unknown" if sig_age is None else sig_age,
                    max_age_days,
                ),
                "Fix the signature update (Windows Update, WSUS or the configured source) and run"
                " Update-MpSignature.",
            )
        )
    findings.extend(_update_findings(update))
    quick, full = _age(status.get("QuickScanAge")), _age(status.get("FullScanAge"))
    ages = [a for a in (quick, full) if a is not None]
    if not ages or min(ages) > max_scan_age_days:
        findings.append(
            _finding(
                "scan_overdue",
                "medium",
                "Last Defender quick scan %s days ago, full scan %s days ago (limit %s)"
                % (
                    "never" if quick is None else quick,
                    "never" if full is None else full,
                    max_scan_age_days,
                ),
                "Check the scheduled scan and run a quick scan now.",
            )
        )
    for threat in threats or []:
        resources = threat.get("Resources") or []
        if isinstance(resources, str):
            resources = [resources]
        findings.append(
            _finding(
                "infected",
                "critical",
                "Defender detected %s (threat id %s) in %s (detected %s, action %s)"
                % (
                    threat.get("ThreatName") or "a threat",
                    threat.get("ThreatID"),
                    ", ".join(resources) or "an unknown resource",
                    threat.get("InitialDetectionTime"),
                    "succeeded" if _flag(threat.get("ActionSuccess")) else "not completed",
                ),
                "Isolate the host, confirm the detection and the remediation, and find how the"
                " threat arrived; treat it as a security incident.",
            )
        )
    return findings


def antivirus_freshclam_message(text, limit=5):
    """The last ERROR/WARNING lines of freshclam output (else its last lines), timestamps cut."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    cleaned = [
        re.sub(r"^(ERROR|WARNING): \w{3} \w{3} +\d+ [\d:]+ \d{4} -> ", r"\1: ", line)
        for line in lines
    ]
    problems = [line for line in cleaned if line.startswith(("ERROR", "WARNING"))]
    return " | ".join((problems or cleaned)[-limit:])


def antivirus_freshclam_updated(text):
    """True when freshclam output says a database was downloaded or updated."""
    return any(
        re.search(r"\b(updated|downloaded) \(version", line) for line in (text or "").splitlines()
    )


def antivirus_update_record(result, tool="freshclam", mirror="", enabled=True):
    """The ``data.update`` record from a registered command result (skipped: not attempted).

    ``enabled`` is antivirus_update: false tells "updates disabled" apart from "not attempted"
    (check mode skips the update too)."""
    result = result or {}
    enabled = bool(enabled)
    if result.get("skipped") or "rc" not in result:
        return {
            "attempted": False,
            "enabled": enabled,
            "tool": tool,
            "rc": None,
            "ok": None,
            "message": "",
            "mirror": mirror,
        }
    rc = result.get("rc")
    output = "\n".join(
        x for x in (result.get("stdout"), result.get("stderr"), result.get("msg")) if x
    )
    if rc == 124:
        message = "timed out; " + antivirus_freshclam_message(output)
    else:
        message = antivirus_freshclam_message(output)
    return {
        "attempted": True,
        "enabled": enabled,
        "tool": tool,
        "rc": rc,
        "ok": rc == 0,
        "updated": rc == 0 and antivirus_freshclam_updated(result.get("stdout")),
        "message": message,
        "mirror": mirror,
    }


def antivirus_services(results, required=None):
    """``{role: {name, running, rc, required}}`` from the looped service status commands."""
    required = required or {}
    services = {}
    for res in results or []:
        item = res.get("item") or {}
        role = item.get("key")
        services[role] = {
            "name": item.get("value"),
            "running": res.get("rc") == 0,
            "rc": res.get("rc"),
            "required": bool(required.get(role, True)),
        }
    return services


def antivirus_mirror_pending(text, mirror):
    r"""Whether setting ``PrivateMirror <mirror>`` in freshclam.conf (``text``) changes it, the
    way the role's lineinfile does: the last line matching ``^#?\s*PrivateMirror\s`` is
    replaced, or the line is appended when none matches."""
    if not mirror:
        return False
    line = "PrivateMirror %s" % mirror
    last = None
    for current in (text or "").splitlines():
        if re.search(r"^#?\s*PrivateMirror\s", current):
            last = current
    return last != line


def antivirus_mirror_text(text, mirror):
    r"""freshclam.conf (``text``) with ``PrivateMirror <mirror>`` set the way the role's
    lineinfile sets it: the last line matching ``^#?\s*PrivateMirror\s`` replaced, else the
    line appended."""
    lines = (text or "").splitlines()
    wanted = "PrivateMirror %s" % mirror
    last = None
    for i, current in enumerate(lines):
        if re.search(r"^#?\s*PrivateMirror\s", current):
            last = i
    if last is None:
        lines.append(wanted)
    else:
        lines[last] = wanted
    return "\n".join(lines) + "\n"


def antivirus_skip(skip_controls, host, controls=("AV-01", "AV-02", "AV-03", "AV-05")):
    """The controls of this role the runner asks this host to skip (``maint_skip_controls``:
    {host: [control, ...]}; a plain list applies to every host)."""
    return skip_controls_of(skip_controls, host, controls)


def antivirus_changes(
    check_mode,
    apt=None,
    missing=(),
    installed=False,
    conf_path="",
    conf_text=None,
    mirror="",
    mirror_changed=False,
    scan=None,
    quarantine=False,
    quarantine_dir="",
    update=None,
    skip=(),
):
    """data.changes of the antivirus role: the ClamAV packages AV-01 installs (version and every
    package apt pulls, or why apt cannot install them), the freshclam.conf diff of AV-02, the
    files AV-05 moves into quarantine and, after an apply, the definitions AV-03 downloaded.
    In check mode what would change; after an apply what changed."""
    out = []
    plan = (apt or {}).get("install") or {}
    if "AV-01" not in skip and missing and (check_mode or installed):
        for name in missing:
            item = plan.get(name) or {}
            out.append(
                change(
                    "AV-01",
                    "package",
                    name,
                    "install",
                    after=item.get("version"),
                    pulls=item.get("pulls") or [],
                    would_fail=item.get("would_fail"),
                )
            )
    if "AV-02" not in skip and mirror and conf_text is not None and (check_mode or mirror_changed):
        entry = file_change("AV-02", conf_path, conf_text, antivirus_mirror_text(conf_text, mirror))
        if entry:
            out.append(entry)
    if "AV-05" not in skip and quarantine:
        for item in (scan or {}).get("infected") or []:
            if check_mode or item.get("moved_to"):
                out.append(
                    change(
                        "AV-05",
                        "file",
                        item.get("path"),
                        "remove",
                        after=item.get("moved_to") or quarantine_dir,
                        note="moved into the quarantine directory (not moved back on rollback)",
                    )
                )
    if not check_mode and (update or {}).get("changed"):
        out.append(
            change(
                "AV-03",
                "file",
                (update or {}).get("database_dir") or "/var/lib/clamav",
                "modify",
                note="signature databases downloaded by freshclam (not rolled back)",
            )
        )
    return out


class FilterModule:
    def filters(self):
        return {
            "antivirus_findings": antivirus_findings,
            "antivirus_windows_findings": antivirus_windows_findings,
            "antivirus_freshclam_message": antivirus_freshclam_message,
            "antivirus_freshclam_updated": antivirus_freshclam_updated,
            "antivirus_update_record": antivirus_update_record,
            "antivirus_services": antivirus_services,
            "antivirus_mirror_pending": antivirus_mirror_pending,
            "antivirus_mirror_text": antivirus_mirror_text,
            "antivirus_skip": antivirus_skip,
            "antivirus_changes": antivirus_changes,
        }
