# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Filter that turns the Windows (Veeam) job sessions the backup_verify role reads into findings.

The restic and borg findings are built inside the backup_verify module; this file only covers
the Veeam path, whose data comes from PowerShell.
"""

from __future__ import annotations

from ansible_collections.maint.preventive.plugins.module_utils.findings import finder

DOCUMENTATION_NOTE = "See docs/roles/backup_verify.md for the finding ids."


_finding = finder("backup_verify")


def backup_verify_veeam_findings(jobs, max_age_hours, host="the host"):
    """Findings for the Veeam jobs: each job is {name, result, end_time, age_hours, sessions}.

    ``result`` is the last finished session's result (Success, Warning, Failed, None) and
    ``age_hours`` the age of the newest restore point (None when there is none).
    """
    findings = []
    if not jobs:
        findings.append(
            _finding(
                "no_snapshot",
                "critical",
                "No Veeam backup job was found on %s" % host,
                "Check that Veeam Backup & Replication has jobs for this host and that they run.",
            )
        )
    for job in jobs or []:
        name = job.get("name", "?")
        result = str(job.get("result") or "None")
        age = job.get("age_hours")
        if age is None:
            findings.append(
                _finding(
                    "no_snapshot",
                    "critical",
                    "Veeam job %s on %s has no restore point" % (name, host),
                    "Run the job and check that it completes; there is no recovery point.",
                )
            )
        elif float(age) > float(max_age_hours):
            findings.append(
                _finding(
                    "stale_snapshot",
                    "high",
                    "The newest restore point of Veeam job %s on %s is %.1f h old, over the %s h "
                    "recovery point" % (name, host, float(age), max_age_hours),
                    "Find out why the job stopped (schedule, errors, space) and run it now.",
                )
            )
        if result == "Failed":
            findings.append(
                _finding(
                    "job_failed",
                    "critical",
                    "The last session of Veeam job %s on %s failed" % (name, host),
                    "Read the session log in the Veeam console, fix the cause and retry the job.",
                )
            )
        elif result == "Warning":
            findings.append(
                _finding(
                    "job_warning",
                    "medium",
                    "The last session of Veeam job %s on %s ended with warnings" % (name, host),
                    "Read the session warnings in the Veeam console and fix them.",
                )
            )
    return findings


class FilterModule:
    def filters(self):
        return {"backup_verify_veeam_findings": backup_verify_veeam_findings}
