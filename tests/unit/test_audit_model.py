"""The onboarding audit's pure core: events, facts and role results -> register, risks, roadmap.

Samples under tests/unit/samples/audit/ (see its README): two event streams captured from the
lab and a constructed Windows host.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maintenance_runner.audit import model as am
from maintenance_runner.audit.checks import audit_findings
from maintenance_runner.audit.events import (
    gathered_facts,
    hosts_seen,
    remaining_tasks,
    task_timings,
    unreachable_hosts,
)
from maintenance_runner.audit.register import backup_fields
from maintenance_runner.audit.roadmap import BUCKETS, CYCLE, FIX_NOW, PROJECT, Rule, classify
from maintenance_runner.core.clock import FixedClock
from maintenance_runner.core.results import SEVERITIES, Finding, TaskResult, collect_results
from maintenance_runner.core.roledata.facts import disks

SAMPLES = Path(__file__).parent / "samples" / "audit"
TASKS = ("access_review", "antivirus", "backup_verify", "hardening", "patching")
LAB_HOST = "maint-audit-dev-1"
CLOCK = FixedClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))


def events(name):
    return json.loads((SAMPLES / name).read_text())


def lab_audit(clock=CLOCK):
    stream = events("lab-check-run.json")
    return am.build_audit(
        gathered_facts(stream),
        collect_results(stream),
        unreachable_hosts(stream),
        TASKS,
        clock,
        hosts=hosts_seen(stream),
    )


def windows():
    sample = json.loads((SAMPLES / "windows-server.json").read_text())
    results = [TaskResult.from_fact(sample["host"], r) for r in sample["results"]]
    return sample["host"], sample["facts"], results


def row_of(audit, host):
    (row,) = [r for r in audit.rows if r.host == host]
    return row


def note_of(audit, fid):
    (note,) = [n for n in audit.notes if n.id == fid]
    return note


# --- the event stream ------------------------------------------------------------------------


def test_facts_and_unreachable_hosts_come_from_the_fact_gathering_events():
    stream = events("lab-check-run.json")
    facts = gathered_facts(stream)
    assert set(facts) == {LAB_HOST}
    assert facts[LAB_HOST]["ansible_distribution"] == "Debian"
    unreachable = unreachable_hosts(stream)
    assert set(unreachable) == {"db-old"}
    assert unreachable["db-old"].startswith("unreachable: ")
    assert "Connection refused" in unreachable["db-old"]
    assert hosts_seen(stream) == ["db-old", LAB_HOST]


def test_a_host_that_answers_in_a_later_pass_is_not_unreachable():
    first = events("lab-check-run.json")
    unreachable_event = next(e for e in first if e["event"] == "runner_on_unreachable")
    answered = {
        "event": "runner_on_ok",
        "event_data": {"host": "db-old", "task": "Gathering Facts", "res": {"ansible_facts": {}}},
    }
    assert unreachable_hosts([unreachable_event, answered]) == {}


def test_task_timings_span_each_role_on_each_host():
    timings = task_timings(events("lab-check-run.json"))
    hardening = timings[(LAB_HOST, "hardening")]
    assert hardening.duration_s > 1.0
    assert hardening.started_at.tzinfo is not None
    assert timings[(LAB_HOST, "access_review")].started_at < hardening.started_at
    assert ("db-old", "audit") in timings  # the failed fact gathering is timed under "audit"


def test_roles_a_failing_role_kept_from_running_are_run_again():
    stream = events("lab-av-install-failed.json")
    results = collect_results(stream)
    assert [(r.task, r.status) for r in results] == [
        ("access_review", "ok"),
        ("antivirus", "failed"),
    ]
    left = remaining_tasks(TASKS, results, gathered_facts(stream), {})
    assert left == {("backup_verify", "hardening", "patching"): [LAB_HOST]}


def test_nothing_is_run_again_when_every_role_ran_or_the_host_is_unreachable():
    stream = events("lab-check-run.json")
    facts = gathered_facts(stream)
    results = collect_results(stream)
    assert remaining_tasks(TASKS, results, facts, unreachable_hosts(stream)) == {}
    # An unreachable host has no facts: never re-run, whatever is missing.
    assert remaining_tasks(TASKS, [], {}, {"db-old": "unreachable"}) == {}


# --- the register ------------------------------------------------------------------------------


def test_the_lab_host_row_carries_its_real_facts_and_role_data():
    row = row_of(lab_audit(), LAB_HOST)
    assert row.reachable and row.reason == ""
    assert row.os == "Debian 12.15 (bookworm)"
    assert row.os_family == "Debian"
    assert row.kernel == "6.18.44-fc-v782"
    assert (row.cpu_model, row.cpu_sockets, row.cpu_cores, row.cpu_threads) == ("AMD EPYC", 1, 2, 2)
    assert row.memory_mb == 24105
    assert row.uptime_days == pytest.approx(10305 / 86400, abs=0.05)
    # Five bind mounts of one filesystem in the container: one disk, named by a data mount.
    (disk,) = row.disks
    assert disk.mount == "/srv/maint-fixture"
    assert set(disk.also_mounted_at) == {
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
        "/run/.containerenv",
    }
    mount = gathered_facts(events("lab-check-run.json"))[LAB_HOST]["ansible_mounts"][0]
    used = mount["size_total"] - mount["size_available"]
    assert disk.size_bytes == mount["size_total"]
    assert disk.used_pct == pytest.approx(100 * used / mount["size_total"], abs=0.05)
    assert (row.pending_updates, row.security_updates, row.reboot_required) == (2, 1, False)
    assert row.antivirus == "not installed (ClamAV)"
    assert row.av_definitions_age_days is None
    assert (row.backup_state, row.last_good_backup) == ("not configured", None)
    assert (row.hardening_score, row.hardening_noncompliant) == (10.0, 27)
    admins = {a.name: a for a in row.admin_accounts}
    assert set(admins) == {"maint", "root"}
    assert admins["maint"].nopasswd and admins["maint"].via == ("sudo ALL",)
    assert "uid 0" in admins["root"].via and not admins["root"].nopasswd
    assert row.tasks == {
        "access_review": "ok",
        "antivirus": "ok",
        "backup_verify": "ok",
        "hardening": "changed",
        "patching": "changed",
    }
    assert row.findings["high"] == 7 and row.findings["critical"] == 0


def test_an_unreachable_host_is_in_the_register_with_the_reason():
    audit = lab_audit()
    row = row_of(audit, "db-old")
    assert not row.reachable
    assert "port 2799: Connection refused" in row.reason
    assert row.os is None and row.memory_mb is None
    assert set(row.tasks.values()) == {"not run"}
    assert row.to_dict()["reachable"] is False
    assert not audit.complete
    assert [r.host for r in audit.unreachable] == ["db-old"]


def test_a_failed_role_without_findings_becomes_an_audit_finding():
    stream = events("lab-av-install-failed.json")
    audit = am.build_audit(gathered_facts(stream), collect_results(stream), {}, TASKS, CLOCK)
    row = row_of(audit, LAB_HOST)
    assert row.tasks["antivirus"] == "failed"
    assert "No package matching 'clamav'" in row.errors["antivirus"]
    assert row.tasks["patching"] == "not run"
    note = note_of(audit, "audit.task_failed")
    assert note.bucket == FIX_NOW
    assert "antivirus check could not finish" in note.details[0][1]


def test_windows_host_fields_from_the_windows_role_results():
    host, facts, results = windows()
    audit = am.build_audit({host: facts}, results, {}, TASKS, CLOCK)
    row = row_of(audit, host)
    assert row.os == "Microsoft Windows Server 2012 R2 Standard 6.3.9600.0"
    assert row.cpu_model == "Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz"
    assert row.address == "10.20.0.15"
    assert row.virtualization == "VMware (guest)"
    assert row.disks == ()  # Windows facts carry no mounts
    assert (row.pending_updates, row.security_updates) == (3, 2)  # security + critical
    assert row.antivirus.startswith("Microsoft Defender 1.1.24090.11, running")
    assert row.av_definitions_age_days == 9
    # Both jobs produced a backup (one with warnings): the older of their last sessions counts.
    # The weekly job's restore point (44.9 h) is past the 26 h target, and the role makes no
    # test restore of a Veeam job: neither is verified.
    assert row.last_good_backup == "2026-11-22T03:00:00Z"
    assert row.backup_state == "stale: FS01-weekly; no test restore: FS01-daily, FS01-weekly"
    assert row.backup_age_hours == 44.9
    assert row.hardening_score == 50.0  # 2 of 4 enabled controls
    assert [a.name for a in row.admin_accounts] == [
        "CONTOSO\\Domain Admins",
        "WIN-FS01\\Administrator",
        "WIN-FS01\\helpdesk",
    ]
    ids = {f.id for f in audit.findings}
    assert "audit.os_end_of_life" in ids  # 2012 R2 support ended 2023-10-10
    assert "audit.long_uptime" in ids  # 221 days


def test_backup_repositories_give_the_oldest_verified_recovery_point():
    def repo(name, time, **extra):
        return {
            "name": name,
            "type": "restic",
            "snapshots": 3,
            "newest": {"id": "abc", "short_id": "abc", "time": time},
            "recovery_point_age_hours": 5.0,
            "check": {"ok": True, "kind": "ok"},
            "restore": {
                "files": [{"path": "/etc/.maint-canary", "match": True}],
                "seconds": 0.4,
                "mismatches": [],
                "missing": [],
            },
            "error": None,
            **extra,
        }

    good = [repo("etc", "2026-11-24T02:00:00Z"), repo("db", "2026-11-23T23:00:00Z")]
    assert backup_fields({"max_age_hours": 26, "repositories": good}) == {
        "backup_state": "verified",
        "last_good_backup": "2026-11-23T23:00:00Z",
        "backup_age_hours": 5.0,
    }
    mismatch = repo("srv", "2026-11-24T03:00:00Z", restore={"mismatches": ["/srv/a"]})
    fields = backup_fields({"max_age_hours": 26, "repositories": [*good, mismatch]})
    assert fields["backup_state"] == "restore failed: srv"
    assert fields["last_good_backup"] == "2026-11-23T23:00:00Z"
    broken = repo("x", "2026-11-24T03:00:00Z", error="wrong password", snapshots=0)
    assert backup_fields({"repositories": [broken]})["last_good_backup"] is None


def test_a_backup_older_than_its_target_is_stale_not_verified():
    """Verified means within the recovery point target and restored by a test restore that
    restored files: the rule the report's checks use (core/roledata/backup.py)."""
    ten_days = {
        "name": "restic-main",
        "snapshots": 30,
        "newest": {"time": "2026-11-14T02:00:00Z"},
        "recovery_point_age_hours": 240.0,
        "check": {"ok": True},
        "restore": {"files": [{"path": "/srv/.maint-canary", "match": True}], "seconds": 2.0},
    }
    fields = backup_fields({"max_age_hours": 26, "repositories": [ten_days]})
    assert fields["backup_state"] == "stale: restic-main"
    # the recovery point is still shown, with its age: it is restorable, only too old
    assert fields["last_good_backup"] == "2026-11-14T02:00:00Z"
    assert fields["backup_age_hours"] == 240.0
    # a repository's own target wins over the role's
    weekly = {**ten_days, "max_age_hours": 24 * 14}
    assert backup_fields({"max_age_hours": 26, "repositories": [weekly]})["backup_state"] == (
        "verified"
    )
    nothing_restored = {**ten_days, "recovery_point_age_hours": 5.0, "restore": {"files": []}}
    fields = backup_fields({"max_age_hours": 26, "repositories": [nothing_restored]})
    assert fields["backup_state"] == "nothing restored: restic-main"
    assert fields["last_good_backup"] is None
    untested = {**ten_days, "recovery_point_age_hours": 5.0, "restore": {}}
    fields = backup_fields({"max_age_hours": 26, "repositories": [untested]})
    assert fields["backup_state"] == "no test restore: restic-main"


def test_disks_leave_pseudo_filesystems_out_and_flag_full_ones():
    gib = 1024**3
    facts = {
        "ansible_distribution": "Debian",
        "ansible_distribution_version": "12.7",
        "ansible_mounts": [
            {"mount": "/", "device": "/dev/sda1", "fstype": "ext4", "options": "rw",
             "size_total": 100 * gib, "size_available": 5 * gib},
            {"mount": "/var", "device": "/dev/sdb1", "fstype": "xfs", "options": "rw",
             "size_total": 50 * gib, "size_available": 8 * gib,
             "inode_total": 1000, "inode_available": 100},
            {"mount": "/run", "device": "tmpfs", "fstype": "tmpfs", "options": "rw",
             "size_total": 2 * gib, "size_available": 0},
            {"mount": "/data", "device": "/dev/sdc1", "fstype": "ext4", "options": "rw",
             "size_total": 10 * gib, "size_available": 9 * gib},
        ],
    }  # fmt: skip
    found = disks(facts)
    assert [d.mount for d in found] == ["/", "/data", "/var"]
    assert [d.used_pct for d in found] == [95.0, 10.0, 84.0]
    assert found[2].inodes_used_pct == 90.0
    own = audit_findings("srv1", facts, [], "", CLOCK.now().date())
    assert [(f.id, f.severity) for f in own] == [
        ("audit.disk_full", "high"),
        ("audit.disk_filling", "medium"),
    ]
    assert own[0].message == "/ on srv1 is 95% full (100.0 GiB)"


@pytest.mark.parametrize(
    ("distribution", "version", "when", "expected"),
    [
        ("Debian", "11.11", datetime(2026, 11, 24, tzinfo=UTC), "audit.os_end_of_life"),
        ("Debian", "11.11", datetime(2026, 1, 10, tzinfo=UTC), "audit.os_eol_soon"),
        ("Debian", "12.15", datetime(2026, 11, 24, tzinfo=UTC), None),
        ("Debian", "12.15", datetime(2027, 7, 1, tzinfo=UTC), "audit.os_eol_soon"),
        ("Ubuntu", "20.04", datetime(2026, 11, 24, tzinfo=UTC), "audit.os_end_of_life"),
        ("RedHat", "9.4", datetime(2026, 11, 24, tzinfo=UTC), None),
        ("Gentoo", "2.15", datetime(2026, 11, 24, tzinfo=UTC), None),
    ],
)
def test_os_end_of_support_depends_on_the_clock(distribution, version, when, expected):
    facts = {"ansible_distribution": distribution, "ansible_distribution_version": version}
    ids = {f.id for f in audit_findings("h", facts, [], "", when.date())}
    lifecycle = ids & {"audit.os_end_of_life", "audit.os_eol_soon"}
    assert lifecycle == ({expected} if expected else set())


def test_the_lab_host_is_flagged_when_debian_12_support_ends():
    audit = lab_audit(FixedClock(datetime(2028, 7, 1, tzinfo=UTC)))
    note = note_of(audit, "audit.os_end_of_life")
    assert note.hosts == (LAB_HOST,)
    assert "no security support since 2028-06-30" in note.details[0][1]
    assert note.bucket == PROJECT


# --- risk notes and roadmap -------------------------------------------------------------------


def test_risk_notes_are_ranked_by_severity_then_fix_now_first():
    audit = lab_audit()
    ranks = [SEVERITIES.index(n.severity) for n in audit.notes]
    assert ranks == sorted(ranks, reverse=True)
    assert audit.notes[0].id == "audit.unreachable"  # high and fix now, before other highs
    assert audit.notes[0].title == "Hosts that could not be audited"
    # Every finding of every host is in exactly one note.
    assert sum(len(n.details) for n in audit.notes) == len(audit.findings)


def test_findings_on_several_hosts_share_one_note():
    host, facts, results = windows()
    stream = events("lab-check-run.json")
    audit = am.build_audit(
        {**gathered_facts(stream), host: facts},
        [*collect_results(stream), *results],
        {},
        TASKS,
        CLOCK,
    )
    note = note_of(audit, "patching.security_updates_pending")
    assert note.hosts == (LAB_HOST, host)
    assert not note.same_message
    assert note.title == "Security updates not installed"


def test_roadmap_buckets_follow_the_rules():
    audit = lab_audit()
    buckets = {n.id: n.bucket for n in audit.roadmap}
    assert buckets["audit.unreachable"] == FIX_NOW
    assert buckets["patching.security_updates_pending"] == CYCLE
    assert buckets["hardening.ssh_root_login"] == CYCLE
    assert buckets["access_review.nopasswd"] == CYCLE
    assert buckets["backup_verify.not_configured"] == PROJECT
    assert buckets["hardening.sysctl_not_writable"] == PROJECT
    order = [BUCKETS.index(n.bucket) for n in audit.roadmap]
    assert order == sorted(order)
    reason = next(n.reason for n in audit.roadmap if n.id == "patching.security_updates_pending")
    assert reason.startswith("the patching task fixes this")
    assert audit.bucket_counts() == {FIX_NOW: 1, CYCLE: 35, PROJECT: 2}


@pytest.mark.parametrize(
    ("fid", "severity", "bucket"),
    [
        ("antivirus.infected", "critical", FIX_NOW),
        ("access_review.unapproved_key", "high", FIX_NOW),
        ("backup_verify.restore_mismatch", "critical", FIX_NOW),
        ("backup_verify.stale_snapshot", "high", CYCLE),
        ("hardening.lockout_risk", "critical", FIX_NOW),
        ("audit.disk_filling", "medium", PROJECT),
        ("audit.long_uptime", "low", CYCLE),
        ("thirdparty.something", "critical", FIX_NOW),
        ("thirdparty.something", "low", CYCLE),
    ],
)
def test_classify(fid, severity, bucket):
    assert classify(Finding(fid, severity, "m"), fid.split(".")[0])[0] == bucket


def test_rules_can_be_replaced():
    rules = (Rule(PROJECT, "all of it later", prefixes=("patching.",)),)
    assert classify(Finding("patching.updates_pending", "low", "m"), "patching", rules) == (
        PROJECT,
        "all of it later",
    )


# --- action log rows ---------------------------------------------------------------------------


def test_action_log_rows_record_check_mode_without_changes():
    stream = events("lab-check-run.json")
    audit = lab_audit()
    rows = am.actionlog_results(audit, task_timings(stream))
    by_key = {(r["host"], r["task"]): r for r in rows}
    assert by_key[("db-old", "audit")]["status"] == "unreachable"
    assert "Connection refused" in by_key[("db-old", "audit")]["message"]
    assert by_key[(LAB_HOST, "hardening")]["diff_summary"] == "check mode: would change"
    assert by_key[(LAB_HOST, "hardening")]["duration_s"] > 1.0
    assert not any(r["changed"] for r in rows)
    assert len(rows) == 1 + len(TASKS)
    findings = am.actionlog_findings(audit)
    assert len(findings) == len(audit.findings)
    assert {f["task"] for f in findings} >= {"audit", "hardening", "patching"}
    details = am.actionlog_details(audit)
    assert {d["host"] for d in details} == {"db-old", LAB_HOST}
    json.dumps([d["data"] for d in details])  # JSON-serialisable as stored


def test_the_register_says_when_antivirus_updates_are_disabled():
    """The audit runs in check mode, where no update is attempted: only the role's
    ``update.enabled`` (antivirus_update) tells "disabled" from "not attempted"."""
    from maintenance_runner.audit.register import antivirus_fields

    clamav = {
        "engine": "clamav",
        "check_mode": True,
        "engine_installed": True,
        "engine_version": "1.0.7",
        "definitions": {"present": True, "age_days": 0.5, "stale": False},
        "services": {
            "clamd": {"name": "clamav-daemon", "running": True},
            "freshclam": {"name": "clamav-freshclam", "running": True},
        },
    }
    off = {**clamav, "update": {"attempted": False, "ok": None, "enabled": False}}
    assert antivirus_fields(off)["antivirus"].endswith(", definitions updates disabled")
    on = {**clamav, "update": {"attempted": False, "ok": None, "enabled": True}}
    assert "disabled" not in antivirus_fields(on)["antivirus"]
    defender = {
        "engine": "defender",
        "check_mode": False,
        "engine_version": "1.1",
        "services": {"defender": {"running": True, "realtime": True}},
        "update": {"attempted": False, "ok": None},
    }
    assert antivirus_fields(defender)["antivirus"].endswith(", definitions updates disabled")
