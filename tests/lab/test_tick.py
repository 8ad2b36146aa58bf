"""``maint tick`` against two lab hosts with the patching fixture, on the real clock.

A simulated clock never reaches a host, so the windows are one-off occurrences placed around
the moment the test starts (T0): one ahead of its lead time, one in it, one open, one past its
cutoff, one blacked out, one that passed unapproved, and two more open ones for the crash cases.
The first tick plans what is due and records what was skipped; a rehearsal (--at) records
nothing; open but unapproved, nothing is applied; approved, ten ticks at once apply it once.
A tick SIGKILLed mid-batch leaves nothing running, and the next tick reconciles the host in
flight (its change is recorded as the killed run's and can be rolled back) and finishes only the
host that was left. A tick sent SIGTERM records the interruption itself. The log verifies
throughout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from maintenance_runner.actionlog import models as m
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.config.load import load_config

from .labkit import BIN, free_base, maint, signers

PREFIX = f"maint-tick-{os.getpid()}"
HOSTS = [f"{PREFIX}-1", f"{PREFIX}-2"]
NOTE_TO_FILE = "cat >> notifications.jsonl; echo >> notifications.jsonl"
T0 = datetime.now(UTC).replace(second=0, microsecond=0)
# name -> (start, duration, cutoff): one occurrence each, placed around T0
WINDOWS = {
    "ahead": (T0 + timedelta(hours=8), "2h", "30m"),
    "soon": (T0 + timedelta(hours=2), "2h", "30m"),
    "open": (T0 - timedelta(minutes=10), "6h", "30m"),
    "late": (T0 - timedelta(minutes=90), "6h", "5h"),
    "frozen": (T0 + timedelta(hours=1), "2h", "30m"),
    "missed": (T0 - timedelta(hours=5), "2h", "30m"),
    "crash": (T0 - timedelta(minutes=10), "6h", "30m"),
    "term": (T0 - timedelta(minutes=10), "6h", "30m"),
}


def key(name: str) -> str:
    return f"{name}@{WINDOWS[name][0]:%Y-%m-%dT%H:%M:%SZ}"


def tick(site, *extra):
    return maint("tick", *extra, cwd=site)


def versions():
    return {
        h: subprocess.run(
            ["podman", "exec", h, "dpkg-query", "-W", "-f", "${Version}", "maint-fixture"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for h in HOSTS
    }


def downgrade():
    for host in HOSTS:
        subprocess.run(
            ["podman", "exec", host, "apt-get", "install", "-y", "-qq", "--allow-downgrades",
             "maint-fixture=1.0", "maint-fixture-tools=1.0"],
            check=True, capture_output=True,
        )  # fmt: skip


class Log:
    def __init__(self, site):
        self.log = ActionLog(load_config(site / "maint.yml").actionlog_url)

    def __enter__(self):
        return self.log

    def __exit__(self, *exc):
        self.log.close()


def apply_runs(site):
    with Log(site) as log, log.engine.connect() as conn:
        return conn.execute(
            select(m.runs.c.id, m.runs.c.run_uid, m.runs.c.plan_uid).where(m.runs.c.mode == "apply")
        ).all()


def plans(site):
    with Log(site) as log, log.engine.connect() as conn:
        return conn.execute(select(m.plans.c.plan_uid, m.plans.c.window)).all()


def window(name: str) -> dict:
    start, duration, cutoff = WINDOWS[name]
    return {
        "name": name,
        "schedule": f"DTSTART:{start:%Y%m%d}T000000\nRRULE:FREQ=DAILY;COUNT=1",
        "start": f"{start:%H:%M}",
        "timezone": "UTC",
        "duration": duration,
        "cutoff": cutoff,
        "lead_time": "3h",
        "tasks": ["patching"],
        "batch": 1,
        "max_fail": 1,
        **({"blackout": ["freeze"]} if name == "frozen" else {}),
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("tick")
    signers(site, ["tick", "alice"])
    up = maint(
        "lab", "up", "-n", "2", "--base-port", str(free_base(2, 3300, 3800)), "--prefix", PREFIX,
        "--state", str(site / "lab"), "--fixture", cwd=site,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    frozen = WINDOWS["frozen"][0].date()
    config = {
        "inventory": "lab/hosts.yml",
        "tick": {"key": "tick"},
        "approvals": {
            "allowed_signers": "allowed_signers",
            "groups": {"ops": ["alice@example.org"]},
            "policies": {"normal": {"approvals": 1, "groups": ["ops"], "expires": "1d"}},
        },
        "calendars": {"freeze": {"ranges": [[f"{frozen}", f"{frozen + timedelta(days=1)}"]]}},
        "notifications": {"command": {"argv": ["sh", "-c", NOTE_TO_FILE]}},
        "windows": [window(name) for name in WINDOWS],
    }  # fmt: skip
    (site / "maint.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        yield site
    finally:
        maint("lab", "down", "--prefix", PREFIX, cwd=site)


def notifications(site):
    path = site / "notifications.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["event"] for line in path.read_text().splitlines() if line.strip()]


def plan_of(site, name):
    return next(p.plan_uid for p in plans(site) if p.window == name)


def lines_for(text, name):
    return [line for line in text.splitlines() if line.startswith(key(name) + ":")]


def test_the_first_tick_plans_what_is_due_and_records_what_was_skipped(site):
    proc = tick(site)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # a window passed: a person must know
    out = proc.stdout
    assert lines_for(out, "ahead") == [] and lines_for(out, "late") == []
    for name in ("soon", "open", "crash", "term"):
        (line,) = lines_for(out, name) or [out + proc.stderr]
        assert ": planned " in line and "awaiting approval" in line, line
    (frozen,) = lines_for(out, "frozen")
    assert frozen.startswith(f"{key('frozen')}: skipped: blackout freeze"), frozen
    assert lines_for(out, "missed") == [
        f"{key('missed')}: skipped: the window passed without an approved plan"
    ]
    assert sorted(p.window for p in plans(site)) == ["crash", "open", "soon", "term"]
    assert notifications(site) == ["plan_awaiting_approval"] * 4
    with Log(site) as log:
        assert log.verify().ok


def test_the_next_tick_changes_nothing(site):
    again = tick(site)
    assert (again.returncode, again.stdout, len(plans(site))) == (0, "", 4)


def test_a_rehearsal_records_nothing(site):
    with Log(site) as log:
        before = {t: log.count(t) for t in ("runs", "plans", "occurrence_states", "approvals")}
    at = WINDOWS["soon"][0] + timedelta(minutes=10)
    proc = tick(site, "--at", f"{at:%Y-%m-%dT%H:%M}Z")
    assert "rehearses" in proc.stderr and proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # every due occurrence is planned and unapproved: nothing to do
    with Log(site) as log:
        assert {t: log.count(t) for t in before} == before


def test_open_but_unapproved_does_nothing(site):
    proc = tick(site, "-v")
    assert proc.returncode == 0
    assert any("waiting for approval" in line for line in lines_for(proc.stdout, "open"))
    assert apply_runs(site) == [] and versions() == {h: "1.0" for h in HOSTS}


def test_ten_ticks_at_once_apply_the_approved_plan_once(site):
    maint("approve", plan_of(site, "open")[:16], "--key", "alice", cwd=site, check=True)
    dry = tick(site, "--dry-run")
    assert "would apply plan" in dry.stdout and apply_runs(site) == []
    with ThreadPoolExecutor(10) as pool:
        procs = list(pool.map(lambda _: tick(site), range(10)))
    assert all(p.returncode == 0 for p in procs), [p.stderr for p in procs]
    applied = [p for p in procs if "run run-" in p.stdout]
    assert len(applied) == 1, [p.stdout for p in procs]
    assert len(apply_runs(site)) == 1
    assert versions() == {h: "1.1" for h in HOSTS}
    assert "run_finished" in notifications(site)
    later = tick(site)
    assert (later.stdout, len(apply_runs(site))) == ("", 1)


def leftovers(run_uid: str) -> list[int]:
    marker = f"MAINT_RUN_UID={run_uid}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_sigkill_mid_batch_then_the_next_tick_reconciles_and_finishes_what_was_left(site):
    downgrade()
    plan_uid = plan_of(site, "crash")
    maint("approve", plan_uid[:16], "--key", "alice", cwd=site, check=True)
    proc = subprocess.Popen(
        [str(BIN / "maint"), "tick"],
        cwd=site, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    killed = None
    while time.monotonic() < deadline and proc.poll() is None:
        with Log(site) as log, log.engine.connect() as conn:
            events = conn.execute(
                select(m.run_events.c.event, m.run_events.c.host, m.run_events.c.name,
                       m.run_events.c.changed, m.runs.c.run_uid)
                .join(m.runs, m.runs.c.id == m.run_events.c.run_id)
                .where(m.runs.c.plan_uid == plan_uid)
            ).all()  # fmt: skip
        upgraded = [
            e for e in events
            if e.host == HOSTS[1] and e.changed and str(e.name).startswith("PATCH-04")
        ]  # fmt: skip
        if upgraded:  # the second host was changed, its task not finished: kill now
            killed = (upgraded[0].run_uid, [e.host for e in events if e.event == "host_done"])
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.1)
    proc.wait(timeout=60)
    assert killed is not None, "the tick was not killed after the second host's upgrade"
    run_uid, done_before = killed
    assert done_before == [HOSTS[0]]
    deadline = time.monotonic() + 15  # the guard kills the group at once; a loaded machine lags
    while leftovers(run_uid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leftovers(run_uid) == [], "Ansible outlived the killed runner"
    assert versions() == {h: "1.1" for h in HOSTS}  # the change happened: is it recorded?
    with Log(site) as log:
        assert log.verify().ok
    resumed = tick(site)
    assert "interrupted" in resumed.stderr + resumed.stdout, resumed.stderr
    with Log(site) as log, log.engine.connect() as conn:
        runs = (
            conn.execute(
                select(m.runs.c.id).where(m.runs.c.plan_uid == plan_uid).order_by(m.runs.c.id)
            )
            .scalars()
            .all()
        )
        states = [
            conn.execute(
                select(m.run_states.c.state, m.run_states.c.message)
                .where(m.run_states.c.run_id == r)
                .order_by(m.run_states.c.id.desc())
                .limit(1)
            ).one()
            for r in runs
        ]
        done = conn.execute(
            select(m.run_events.c.run_id, m.run_events.c.host)
            .where(m.run_events.c.event == "host_done")
            .where(m.run_events.c.run_id.in_(runs))
        ).all()
        recorded = conn.execute(
            select(m.task_results.c.host, m.task_results.c.task, m.task_results.c.status).where(
                m.task_results.c.run_id == runs[0]
            )
        ).all()
        details = conn.execute(
            select(m.result_details.c.host, m.result_details.c.rollback).where(
                m.result_details.c.run_id == runs[0]
            )
        ).all()
    with Log(site) as log:
        assert log.verify().ok
    assert len(runs) == 2
    assert states[0].state == "interrupted" and HOSTS[0] in states[0].message
    assert "reconciled" in states[0].message
    assert [(r, h) for r, h in done] == [(runs[0], HOSTS[0]), (runs[1], HOSTS[1])]
    assert (HOSTS[1], "patching", "changed") in {tuple(r) for r in recorded}
    assert any(h == HOSTS[1] and (rb or {}).get("manifest_path") for h, rb in details)
    assert versions() == {h: "1.1" for h in HOSTS}
    shown = maint("log", "runs", cwd=site, check=True).stdout
    assert run_uid in shown and "interrupted" in shown
    # the recorded change can be undone like any other
    back = maint("rollback", run_uid, "--host", HOSTS[1], cwd=site)
    assert back.returncode == 0, back.stdout + back.stderr
    assert versions()[HOSTS[1]] == "1.0"


def test_sigterm_mid_run_records_the_interruption_itself(site):
    downgrade()
    plan_uid = plan_of(site, "term")
    maint("approve", plan_uid[:16], "--key", "alice", cwd=site, check=True)
    proc = subprocess.Popen(
        [str(BIN / "maint"), "tick"],
        cwd=site,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        with Log(site) as log, log.engine.connect() as conn:
            started = conn.execute(
                select(m.run_events.c.id)
                .join(m.runs, m.runs.c.id == m.run_events.c.run_id)
                .where((m.runs.c.plan_uid == plan_uid) & (m.run_events.c.event == "batch_start"))
            ).first()
        if started is not None:
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.2)
    proc.wait(timeout=120)
    assert proc.returncode != 0
    with Log(site) as log, log.engine.connect() as conn:
        (run_id, run_uid) = conn.execute(
            select(m.runs.c.id, m.runs.c.run_uid).where(m.runs.c.plan_uid == plan_uid)
        ).one()
        last = conn.execute(
            select(m.run_states.c.state, m.run_states.c.message)
            .where(m.run_states.c.run_id == run_id)
            .order_by(m.run_states.c.id.desc())
            .limit(1)
        ).one()
    assert last.state == "interrupted" and "Interrupted" in last.message
    assert leftovers(run_uid) == [], "Ansible outlived the interrupted run"
    with Log(site) as log:
        assert log.verify().ok
    finish = tick(site)
    assert finish.returncode == 0, finish.stdout + finish.stderr
    assert versions() == {h: "1.1" for h in HOSTS}
