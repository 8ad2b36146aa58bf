"""Follow-ups against the real action log (SQLite and PostgreSQL) and through the CLI."""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner

from maintenance_runner.actionlog import ActionLog
from maintenance_runner.actionlog.followups import (
    create_followups,
    get_followup,
    list_followups,
    record_action,
)
from maintenance_runner.cli.main import main
from maintenance_runner.config.load import validate_config
from maintenance_runner.core.followups import FollowupError, rules_from_config, target_counts
from maintenance_runner.core.schedule import Slot

MADRID = ZoneInfo("Europe/Madrid")
T0 = datetime(2026, 12, 4, 16, 0, tzinfo=MADRID)  # Friday; Mon 7 and Tue 8 are holidays
P1_DUE = datetime(2026, 12, 9, 12, 0, tzinfo=MADRID)
P2_DUE = datetime(2026, 12, 9, 16, 0, tzinfo=MADRID)
GROUPS = {"db01": {"servers", "linux"}, "ws01": {"workstations"}, "ws02": {"workstations"}}


@dataclass
class MovingClock:
    instant: datetime

    def now(self) -> datetime:
        return self.instant.astimezone(UTC)


@pytest.fixture
def clock():
    return MovingClock(T0)


@pytest.fixture
def log(store_url, clock):
    store = ActionLog(store_url, clock=clock)
    yield store
    store.close()


@pytest.fixture(scope="module")
def rules():
    return rules_from_config(validate_config({}, "maint.yml").followups)


def _finding(host, fid, severity="medium", message="fix me"):
    return {
        "host": host,
        "task": fid.split(".")[0],
        "finding_id": fid,
        "severity": severity,
        "message": message,
        "recommendation": "do the thing",
    }


def record_run(log, findings, uid, occurrence_id=None, window="monthly-servers"):
    run = log.start_run(window, run_uid=uid, occurrence_id=occurrence_id)
    log.append("findings", findings, {"run_id": run})
    log.finish_run(run)
    return run


FIRST_RUN = [
    _finding("db01", "patching.security_updates_pending", "high"),
    _finding("ws01", "patching.updates_pending", "medium"),
    _finding("ws01", "patching.reboot_pending", "low"),
    _finding("ws02", "antivirus.infected", "critical", "EICAR in /tmp/a"),
    _finding("ws02", "antivirus.infected", "critical", "EICAR in /tmp/b"),
    _finding("ws02", "access_review.not_checked", "info"),
]


def test_findings_become_followups_with_priorities_and_due_times(log, rules):
    run = record_run(log, FIRST_RUN, "r1")
    created = create_followups(log, rules, GROUPS, run_id=run)
    assert len(created) == 3
    items = {i.host: i for i in list_followups(log, rules, T0)}
    assert set(items) == {"db01", "ws01", "ws02"}
    assert (items["db01"].priority, items["db01"].due_at) == ("P1", P1_DUE)  # a server
    assert (items["ws01"].priority, items["ws01"].due_at) == ("P2", P2_DUE)
    assert (items["ws02"].priority, items["ws02"].due_at) == ("P1", P1_DUE)  # compromise
    assert items["ws02"].title == "antivirus.infected on ws02: EICAR in /tmp/a"
    assert items["db01"].due_at.tzinfo is not None
    assert all(i.status == "open" and i.target == "pending" for i in items.values())
    assert items["db01"].run_uid == "r1"
    assert items["db01"].window == "monthly-servers"
    assert items["ws01"].working_hours_left == 8
    assert log.verify().ok


def test_creating_again_or_on_recurrence_opens_nothing(log, rules, clock):
    run = record_run(log, FIRST_RUN, "r1")
    first = create_followups(log, rules, GROUPS, run_id=run)
    assert create_followups(log, rules, GROUPS, run_id=run) == []
    assert create_followups(log, rules, GROUPS) == []  # the whole log
    clock.instant = T0 + timedelta(days=30)
    again = record_run(log, FIRST_RUN, "r2")
    assert create_followups(log, rules, GROUPS, run_id=again) == []
    assert [i.id for i in list_followups(log, rules, clock.now(), status="all")] == first


def test_a_closed_followup_is_opened_again_by_a_later_finding(log, rules, clock):
    run = record_run(log, FIRST_RUN, "r1")
    ids = create_followups(log, rules, GROUPS, run_id=run)
    db01 = next(i for i in list_followups(log, rules, T0) if i.host == "db01")
    clock.instant = T0 + timedelta(days=5)
    record_action(log, db01.id, "close", "alice", "patched")
    # replaying the old run after the close opens nothing
    assert create_followups(log, rules, GROUPS) == []
    clock.instant = T0 + timedelta(days=30)
    later = record_run(log, FIRST_RUN, "r2")
    reopened = create_followups(log, rules, GROUPS, run_id=later)
    assert len(reopened) == 1
    fresh = get_followup(log, rules, reopened[0], clock.now())
    assert (fresh.host, fresh.status) == ("db01", "open")
    assert fresh.id not in ids
    assert fresh.finding_row != db01.finding_row


def test_actions_move_the_state_and_are_refused_when_they_do_not_fit(log, rules, clock):
    run = record_run(log, FIRST_RUN, "r1")
    fid = create_followups(log, rules, GROUPS, run_id=run)[0]
    clock.instant = T0 + timedelta(minutes=30)
    record_action(log, fid, "note", "bob", "looking")
    assert get_followup(log, rules, fid, clock.now()).status == "open"
    record_action(log, fid, "ack", "alice")
    with pytest.raises(FollowupError, match="acknowledged"):
        record_action(log, fid, "ack", "alice")
    clock.instant = T0 + timedelta(days=1)
    record_action(log, fid, "close", "alice", "applied the updates")
    with pytest.raises(FollowupError, match="already closed"):
        record_action(log, fid, "close", "alice", "again")
    with pytest.raises(FollowupError, match="needs a note"):
        record_action(log, fid, "close", "alice", "  ")
    item = get_followup(log, rules, fid, clock.now())
    assert item.status == "closed"
    assert [(e.action, e.actor) for e in item.events] == [
        ("note", "bob"),
        ("ack", "alice"),
        ("close", "alice"),
    ]
    assert item.state.responded_at == T0 + timedelta(minutes=30)
    record_action(log, fid, "reopen", "carol", "came back")
    assert get_followup(log, rules, fid, clock.now()).status == "open"
    with pytest.raises(FollowupError, match="not closed"):
        record_action(log, fid, "reopen", "carol")
    with pytest.raises(FollowupError, match="no follow-up 999"):
        record_action(log, 999, "ack", "carol")
    with pytest.raises(FollowupError, match="no follow-up 999"):
        get_followup(log, rules, 999, clock.now())
    assert [i.id for i in list_followups(log, rules, clock.now(), status="closed")] == []
    assert log.verify().ok


def test_targets_met_and_missed_in_working_hours(log, rules, clock):
    run = record_run(log, FIRST_RUN, "r1")
    create_followups(log, rules, GROUPS, run_id=run)
    items = {i.host: i for i in list_followups(log, rules, T0)}
    # db01 (P1, due Wed 9 Dec 12:00): acknowledged on Wednesday 11:59 -> met
    clock.instant = datetime(2026, 12, 9, 11, 59, tzinfo=MADRID)
    record_action(log, items["db01"].id, "ack", "alice")
    # ws02 (P1, same due time): closed on Wednesday 12:01 -> missed
    clock.instant = datetime(2026, 12, 9, 12, 1, tzinfo=MADRID)
    record_action(log, items["ws02"].id, "close", "alice", "cleaned")
    # ws01 (P2, due Wed 16:00): nobody responded; judged on Tuesday (a holiday), then Thursday
    tuesday = datetime(2026, 12, 8, 18, 0, tzinfo=MADRID)
    now = {i.host: i for i in list_followups(log, rules, tuesday, status="all")}
    assert now["db01"].target == "met"
    assert now["ws02"].target == "missed"
    assert (now["ws01"].target, now["ws01"].working_hours_left) == ("pending", 7)
    thursday = datetime(2026, 12, 10, 10, 0, tzinfo=MADRID)
    later = {i.host: i for i in list_followups(log, rules, thursday, status="all")}
    assert (later["ws01"].target, later["ws01"].working_hours_left) == ("missed", -2)
    assert target_counts(later.values()) == {"met": 1, "missed": 2, "pending": 0, "none": 0}


def test_a_finding_in_three_cycles_is_recurring(log, rules, clock):
    finding = [_finding("ws01", "patching.updates_pending")]
    occurrences = []
    for month in (10, 11, 12):
        start = datetime(2026, month, 12, 22, tzinfo=MADRID).astimezone(UTC)
        occurrences.append(
            log.record_occurrence(
                Slot(
                    "monthly-servers",
                    "Europe/Madrid",
                    start,
                    start + timedelta(hours=4),
                    start + timedelta(hours=3),
                )
            )
        )
    clock.instant = datetime(2026, 10, 12, 23, tzinfo=MADRID)
    record_run(log, finding, "check-oct", occurrences[0])
    record_run(log, finding, "apply-oct", occurrences[0])  # the same cycle
    fid = create_followups(log, rules, GROUPS)[0]
    assert get_followup(log, rules, fid, clock.now()).cycles == ("occurrence 1",)
    clock.instant = datetime(2026, 11, 12, 23, tzinfo=MADRID)
    record_run(log, finding, "apply-nov", occurrences[1])
    item = get_followup(log, rules, fid, clock.now())
    assert (len(item.cycles), item.recurring) == (2, False)
    clock.instant = datetime(2026, 12, 12, 23, tzinfo=MADRID)
    record_run(log, finding, "apply-dec", occurrences[2])
    assert create_followups(log, rules, GROUPS) == []  # still open: no second follow-up
    item = get_followup(log, rules, fid, clock.now())
    assert item.cycles == ("occurrence 1", "occurrence 2", "occurrence 3")
    assert item.recurring
    # another host with the same finding once is not recurring
    record_run(log, [_finding("ws02", "patching.updates_pending")], "apply-dec-2", occurrences[2])
    (other,) = create_followups(log, rules, GROUPS)
    assert not get_followup(log, rules, other, clock.now()).recurring


def test_runs_without_an_occurrence_count_by_month(log, rules, clock):
    finding = [_finding("ws01", "hardening.ssh_root_login", "high")]
    for when in ("2026-09-03", "2026-09-20", "2026-10-02", "2026-11-30"):
        clock.instant = datetime.fromisoformat(when).replace(hour=10, tzinfo=MADRID)
        record_run(log, finding, f"adhoc-{when}", window=None)
    (fid,) = create_followups(log, rules, GROUPS)
    item = get_followup(log, rules, fid, clock.now())
    assert item.cycles == ("month 2026-09", "month 2026-10", "month 2026-11")
    assert item.recurring


def _syncer(url, runs, barrier):
    rules = rules_from_config(validate_config({}, "maint.yml").followups)
    log = ActionLog(url)
    try:
        for run in runs:
            barrier.wait(60)  # both workers sync the same run at the same moment
            create_followups(log, rules, GROUPS, run_id=run)
    finally:
        log.close()


def test_two_syncs_at_once_open_each_followup_once(store_url, rules):
    log = ActionLog(store_url)
    runs = [
        record_run(
            log, [_finding(f"h{i:02d}-{j}", "patching.updates_pending") for j in range(5)], f"r{i}"
        )
        for i in range(15)
    ]
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    workers = [ctx.Process(target=_syncer, args=(store_url, runs, barrier)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    items = list_followups(log, rules, T0, status="all")
    assert len({i.host for i in items}) == 75
    assert len(items) == 75
    assert log.verify().ok
    log.close()


# --- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path, store_url, clock):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "servers": {"children": {"servers_linux": {"hosts": {"db01": None}}}},
                        "workstations": {"hosts": {"ws01": None, "ws02": None}},
                    }
                }
            }
        )
    )
    config = tmp_path / "maint.yml"
    config.write_text(yaml.safe_dump({"inventory": "hosts.yml", "actionlog": store_url}))
    store = ActionLog(store_url, clock=clock)
    record_run(store, FIRST_RUN, "r1")
    record_run(store, [_finding("ws01", "hardening.ssh_root_login", "high")], "r2")
    store.close()
    return config


def invoke(*args, env=None):
    result = CliRunner().invoke(main, ["followups", *map(str, args)], env=env)
    return result


def test_a_sync_with_nothing_to_open_does_not_read_the_inventory(site):
    # ansible-inventory takes about a second; an apply without new findings should not pay it
    c = ("--config", site)
    assert invoke("sync", *c).output.startswith("opened 4 follow-up(s)")
    (site.parent / "hosts.yml").unlink()
    result = invoke("sync", *c)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("opened 0 follow-up(s)")


FOLLOWUPS_PROBE = """
import json, sys
from maintenance_runner.actionlog import ActionLog
from maintenance_runner.config.load import load_config
from maintenance_runner.cycle.followups import create_from_config
config = load_config(sys.argv[1])
log = ActionLog(sys.argv[2])
run = log.start_run("monthly-servers", run_uid=sys.argv[3])
log.append("findings", json.loads(sys.argv[4]), {"run_id": run})
log.finish_run(run)
print(len(create_from_config(log, config, run, groups={})), "holidays" in sys.modules)
"""


@pytest.mark.parametrize("findings", [0, 1])
def test_a_run_without_findings_does_not_build_the_calendar(site, store_url, findings):
    # the default working-hours calendar loads the holidays package, about 0.25 s of every apply
    import subprocess
    import sys

    rows = [_finding("ws02", "hardening.ssh_root_login", "high")][:findings]
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            FOLLOWUPS_PROBE,
            str(site),
            store_url,
            f"r{findings}x",
            json.dumps(rows),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [str(findings), str(bool(findings))]


def test_cli_sync_list_show_and_actions(site):
    c = ("--config", site)
    result = invoke("sync", "--run", "r1", *c, "--at", "2026-12-04T15:00Z")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("opened 3 follow-up(s)")
    assert "#1    P1  open" in result.output
    assert invoke("sync", "--run", "r1", *c).output.startswith("opened 0 follow-up(s)")

    result = invoke("list", *c, "--at", "2026-12-08T12:00Z", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    by_host = {r["host"]: r for r in rows}
    assert by_host["db01"]["priority"] == "P1"  # servers, through the child group servers_linux
    assert by_host["ws01"]["priority"] == "P2"
    assert by_host["ws02"]["priority"] == "P1"
    assert by_host["db01"]["due_at"] == "2026-12-09T11:00:00+00:00"
    assert by_host["ws01"]["target"] == "pending"

    result = invoke("list", *c, "--at", "2026-12-08T12:00Z", "--host", "ws01")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "#2    P2  open         due 2026-12-09 Wed 16:00 CET   pending  ws01"
        "                     patching.updates_pending"
    ]

    ws01 = by_host["ws01"]["id"]
    result = invoke("ack", ws01, "--note", "on it", *c, env={"USER": "alice"})
    assert (result.exit_code, result.output) == (0, f"follow-up #{ws01} acknowledged by alice\n")
    result = invoke("note", ws01, "waiting for a reboot slot", "--actor", "bob", *c)
    assert result.exit_code == 0, result.output
    result = invoke("close", ws01, "--note", "updated and rebooted", *c, env={"USER": "alice"})
    assert result.exit_code == 0, result.output
    result = invoke("show", ws01, *c)
    assert result.exit_code == 0, result.output
    assert "follow-up:      #2 P2 closed" in result.output
    assert "due:            2026-12-09 Wed 16:00 CET = 2026-12-09 15:00Z" in result.output
    assert "ack     alice: on it" in result.output
    assert "note    bob: waiting for a reboot slot" in result.output
    assert "close   alice: updated and rebooted" in result.output
    assert invoke("list", *c, "--host", "ws01").output == "no open follow-ups\n"
    assert "#2 " in invoke("list", *c, "--status", "closed").output

    result = invoke("sync", *c, "--json")  # the rest of the log: run r2
    assert result.exit_code == 0, result.output
    (opened,) = json.loads(result.output)
    assert (opened["host"], opened["finding_id"]) == ("ws01", "hardening.ssh_root_login")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "42"), "no follow-up 42"),
        (("ack", "42", "--actor", "a"), "follow-up 42: no follow-up 42"),
        (("sync", "--run", "nope"), "no run 'nope' in the action log"),
        (("list", "--at", "yesterday"), "not an ISO 8601 instant"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(site, args, message):
    result = invoke(*args, "--config", site)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_cli_refuses_an_action_the_state_does_not_allow(site):
    c = ("--config", site)
    assert invoke("sync", *c).exit_code == 0
    assert invoke("close", "1", "--note", "done", "--actor", "a", *c).exit_code == 0
    result = invoke("ack", "1", "--actor", "a", *c)
    assert result.exit_code == 2
    assert result.output == "Error: follow-up 1: cannot acknowledge: the follow-up is closed\n"
    result = invoke("close", "1", *c)
    assert result.exit_code == 2
    assert "Missing option '--note'" in result.output


def test_cli_bad_followups_config_exits_2(tmp_path, store_url):
    config = tmp_path / "maint.yml"
    config.write_text(
        yaml.safe_dump(
            {"actionlog": store_url, "followups": {"working_hours": {"timezone": "Europe/Madird"}}}
        )
    )
    result = invoke("list", "--config", config)
    assert result.exit_code == 2
    assert "followups.working_hours.timezone: unknown time zone 'Europe/Madird'" in result.output


# --- follow-ups follow the latest state ----------------------------------------------------


def observe(log, uid, mode, results, findings=(), rolled_back=(), window="monthly-servers"):
    """A run that ran tasks on hosts: ``results`` are (host, task, status), ``findings``
    (host, finding id, severity); ``rolled_back`` hosts were rolled back by the run."""
    run = log.start_run(window, mode=mode, run_uid=uid)
    now = log.clock.now()
    log.add_results(
        run,
        [
            {"host": h, "task": task, "status": status, "changed": status == "changed"}
            | {"started_at": now, "duration_s": 1.0, "message": None, "diff_summary": None}
            for h, task, status in results
        ],
    )
    if findings:
        log.append(
            "findings",
            [_finding(h, fid, severity) for h, fid, severity in findings],
            {"run_id": run},
        )
    for host in rolled_back:
        tasks = [task for h, task, _ in results if h == host]
        log.append(
            "rollbacks",
            [
                {"host": host, "task": task, "status": "ok", "message": "", "data": {}}
                for task in tasks
            ],
            {"run_id": run},
        )
        log.append(
            "run_events",
            [{"host": host, "task": None, "event": "rolled_back", "changed": False, "message": ""}],
            {"run_id": run},
        )
    log.finish_run(run)
    return run


AUDIT_FINDINGS = [
    ("ws01", "hardening.ssh_root_login", "high"),
    ("ws01", "hardening.ssh_password_auth", "high"),
    ("ws01", "patching.updates_pending", "medium"),
]


def _audit(log):
    return observe(
        log,
        "audit-1",
        "check",
        [("ws01", "hardening", "changed"), ("ws01", "patching", "changed")],
        AUDIT_FINDINGS,
    )


def test_a_finding_a_later_complete_run_no_longer_reports_is_not_opened(log, rules, clock):
    """The audit found three problems; the apply fixed one of the hardening ones and reports
    nothing for patching because patching failed: two follow-ups, not three. The one still
    reported keeps the audit's finding: its response clock started then."""
    _audit(log)
    clock.instant = T0 + timedelta(hours=1)
    observe(
        log,
        "apply-1",
        "apply",
        [("ws01", "hardening", "changed"), ("ws01", "patching", "failed")],
        [("ws01", "hardening.ssh_password_auth", "high")],  # still there
    )
    created = create_followups(log, rules, GROUPS)
    items = list_followups(log, rules, clock.now(), status="all", ids=created)
    assert sorted((i.finding_id, i.run_uid) for i in items) == [
        ("hardening.ssh_password_auth", "audit-1"),
        ("patching.updates_pending", "audit-1"),
    ]


def test_an_open_followup_closes_when_a_later_complete_run_no_longer_reports_it(log, rules, clock):
    from maintenance_runner.actionlog.followups import close_resolved

    audit = _audit(log)
    opened = create_followups(log, rules, GROUPS, run_id=audit)
    assert len(opened) == 3
    clock.instant = T0 + timedelta(days=1)
    apply = observe(
        log,
        "apply-1",
        "apply",
        [("ws01", "hardening", "changed"), ("ws01", "patching", "changed")],
        [("ws01", "hardening.ssh_password_auth", "high")],
    )
    closed = close_resolved(log, run_id=apply)
    assert len(closed) == 2
    assert close_resolved(log) == []  # idempotent
    by_id = {i.finding_id: i for i in list_followups(log, rules, clock.now(), status="all")}
    assert by_id["hardening.ssh_password_auth"].status == "open"
    root = by_id["hardening.ssh_root_login"]
    assert root.status == "closed"
    (event,) = root.events
    assert (event.action, event.actor) == ("close", "maint")
    assert event.note == "closed: run apply-1 no longer reports hardening.ssh_root_login on ws01"
    assert log.verify().ok


@pytest.mark.parametrize(
    ("status", "rolled_back", "mode"),
    [
        ("failed", False, "apply"),
        ("skipped", False, "apply"),
        ("unreachable", False, "apply"),
        ("changed", True, "apply"),
        ("ok", False, "rollback"),
    ],
)
def test_only_a_complete_run_closes(log, rules, clock, status, rolled_back, mode):
    from maintenance_runner.actionlog.followups import close_resolved

    audit = _audit(log)
    create_followups(log, rules, GROUPS, run_id=audit)
    clock.instant = T0 + timedelta(days=1)
    observe(
        log,
        "apply-1",
        mode,
        [("ws01", "hardening", status)],
        rolled_back=["ws01"] if rolled_back else [],
    )
    assert close_resolved(log) == []
    assert create_followups(log, rules, GROUPS) == []


def test_a_check_run_re_checks_the_host(log, rules, clock):
    """A plan's or an audit's check run looks at the host as it is: it closes too."""
    from maintenance_runner.actionlog.followups import close_resolved

    clock.instant = T0 - timedelta(days=30)
    apply = observe(
        log,
        "apply-1",
        "apply",
        [("ws01", "hardening", "changed")],
        [("ws01", "hardening.ssh_root_login", "high")],
    )
    (fid,) = create_followups(log, rules, GROUPS, run_id=apply)
    clock.instant = T0
    observe(log, "plan-check", "check", [("ws01", "hardening", "changed")])
    assert close_resolved(log) == [fid]


def test_a_reopened_followup_closes_again_only_on_a_newer_run(log, rules, clock):
    from maintenance_runner.actionlog.followups import close_resolved

    audit = _audit(log)
    create_followups(log, rules, GROUPS, run_id=audit)
    clock.instant = T0 + timedelta(days=1)
    observe(log, "apply-1", "apply", [("ws01", "hardening", "changed")])
    closed = close_resolved(log)
    assert len(closed) == 2
    clock.instant = T0 + timedelta(days=2)
    record_action(log, closed[0], "reopen", "alice", "still open on the console")
    assert close_resolved(log) == []  # the person saw more than apply-1 did
    clock.instant = T0 + timedelta(days=30)
    observe(log, "apply-2", "apply", [("ws01", "hardening", "ok")])
    assert close_resolved(log) == [closed[0]]
    item = get_followup(log, rules, closed[0], clock.now())
    assert [(e.action, e.actor) for e in item.events] == [
        ("close", "maint"),
        ("reopen", "alice"),
        ("close", "maint"),
    ]
    assert "run apply-2" in item.events[-1].note


def _closer(url, barrier):
    from maintenance_runner.actionlog.followups import close_resolved

    log = ActionLog(url)
    try:
        barrier.wait(60)
        close_resolved(log)
    finally:
        log.close()


def test_two_syncs_at_once_close_each_followup_once(store_url, rules):
    log = ActionLog(store_url)
    hosts = [f"h{i:02d}" for i in range(40)]
    audit = observe(
        log,
        "audit-1",
        "check",
        [(h, "hardening", "changed") for h in hosts],
        [(h, "hardening.ssh_root_login", "high") for h in hosts],
    )
    assert len(create_followups(log, rules, {}, run_id=audit)) == 40
    observe(log, "apply-1", "apply", [(h, "hardening", "changed") for h in hosts])
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    workers = [ctx.Process(target=_closer, args=(store_url, barrier)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    items = list_followups(log, rules, T0, status="all")
    assert [len(i.events) for i in items] == [1] * 40
    assert all(i.status == "closed" for i in items)
    assert log.verify().ok
    log.close()


def test_the_apply_use_case_closes_and_sync_says_so(site, store_url, clock):
    """``create_from_config`` (what every apply calls) closes what the run fixed; ``maint
    followups sync`` prints both, and ``show`` has the close in its history."""
    from maintenance_runner.config.load import load_config
    from maintenance_runner.cycle.followups import create_from_config

    c = ("--config", site)
    assert invoke("sync", *c).output.startswith("opened 4 follow-up(s)")
    store = ActionLog(store_url, clock=clock)
    clock.instant = T0 + timedelta(days=1)
    run = observe(store, "apply-9", "apply", [("ws01", "hardening", "changed")])
    assert create_from_config(store, load_config(site), run, groups={}) == []
    store.close()
    item = next(
        json.loads(line)
        for line in invoke("list", *c, "--status", "all", "--json").output.splitlines()
        if json.loads(line)["finding_id"] == "hardening.ssh_root_login"
    )
    assert item["status"] == "closed"
    shown = invoke("show", item["id"], *c)
    assert shown.exit_code == 0, shown.output
    assert (
        "close   maint: closed: run apply-9 no longer reports hardening.ssh_root_login on ws01"
        in shown.output
    )
    store = ActionLog(store_url, clock=clock)
    observe(store, "apply-10", "apply", [("ws01", "patching", "ok")])
    store.close()
    result = invoke("sync", *c)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == ["opened 0 follow-up(s)", "closed 1 follow-up(s)"]
    assert "patching.updates_pending" in result.output
