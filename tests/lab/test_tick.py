"""A fake month of ``maint tick --at T`` against two lab hosts with the patching fixture.

December: before the lead time nothing; in the lead time a plan and a notification; open but
unapproved nothing; approved, ten ticks at once apply it exactly once; past the end nothing.
January is blacked out and recorded as skipped. February passes unapproved and is reported.
March is applied by a tick that is SIGKILLed mid-batch; the next tick records the run as
interrupted and finishes only the host that had not finished. The log verifies throughout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

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


def tick(site, at, *extra):
    return maint("tick", "--at", at, *extra, cwd=site)


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


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("tick")
    signers(site, ["tick", "alice"])
    up = maint(
        "lab", "up", "-n", "2", "--base-port", str(free_base(2, 3300, 3800)), "--prefix", PREFIX,
        "--state", str(site / "lab"), "--fixture", cwd=site,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    config = {
        "inventory": "lab/hosts.yml",
        "tick": {"key": "tick"},
        "approvals": {
            "allowed_signers": "allowed_signers",
            "groups": {"ops": ["alice@example.org"]},
            "policies": {"normal": {"approvals": 1, "groups": ["ops"], "expires": "200d"}},
        },
        "calendars": {"january-freeze": {"ranges": [["2027-01-09", "2027-01-11"]]}},
        "notifications": {"command": {"argv": ["sh", "-c", NOTE_TO_FILE]}},
        "windows": [
            {
                "name": "monthly",
                "schedule": "RRULE:FREQ=MONTHLY;BYMONTHDAY=10",
                "start": "22:00",
                "timezone": "UTC",
                "duration": "2h",
                "cutoff": "30m",
                "lead_time": "3d",
                "tasks": ["patching"],
                "batch": 1,
                "max_fail": 1,
                "blackout": ["january-freeze"],
            }
        ],
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


def test_before_the_lead_time_a_tick_is_silent(site):
    proc = tick(site, "2026-12-06T12:00Z")
    assert (proc.returncode, proc.stdout, plans(site)) == (0, "", [])


def test_in_the_lead_time_it_plans_once_and_notifies(site):
    proc = tick(site, "2026-12-08T12:00Z")
    assert proc.returncode == 0, proc.stderr
    assert (
        "monthly@2026-12-10T22:00:00Z: planned" in proc.stdout
        and "awaiting approval" in proc.stdout
    )
    assert len(plans(site)) == 1
    assert notifications(site) == ["plan_awaiting_approval"]
    again = tick(site, "2026-12-08T12:05Z")
    assert (again.returncode, again.stdout, len(plans(site))) == (0, "", 1)
    dry = tick(site, "2026-12-10T22:10Z", "--dry-run")
    assert dry.stdout == "" and dry.returncode == 0  # unapproved: nothing to do, even dry


def test_open_but_unapproved_does_nothing(site):
    proc = tick(site, "2026-12-10T22:10Z", "-v")
    assert proc.returncode == 0
    assert "waiting for approval" in proc.stdout
    assert apply_runs(site) == [] and versions() == {h: "1.0" for h in HOSTS}


def test_ten_ticks_at_once_apply_the_approved_plan_once(site):
    ((plan_uid, _),) = plans(site)
    maint("approve", plan_uid[:16], "--key", "alice", cwd=site, check=True)
    dry = tick(site, "2026-12-10T22:10Z", "--dry-run")
    assert "would apply plan" in dry.stdout and apply_runs(site) == []
    with ThreadPoolExecutor(10) as pool:
        procs = list(pool.map(lambda _: tick(site, "2026-12-10T22:10Z"), range(10)))
    assert all(p.returncode == 0 for p in procs), [p.stderr for p in procs]
    applied = [p for p in procs if "run run-" in p.stdout]
    assert len(applied) == 1, [p.stdout for p in procs]
    assert len(apply_runs(site)) == 1
    assert versions() == {h: "1.1" for h in HOSTS}
    assert "run_finished" in notifications(site)
    later = tick(site, "2026-12-10T22:20Z")
    assert (later.stdout, len(apply_runs(site))) == ("", 1)


def test_cutoff_and_end_start_nothing(site):
    for at in ("2026-12-10T23:40Z", "2026-12-11T01:00Z"):
        proc = tick(site, at)
        assert (proc.returncode, proc.stdout) == (0, "")
    assert len(apply_runs(site)) == 1


def test_a_blacked_out_occurrence_is_recorded_as_skipped(site):
    proc = tick(site, "2027-01-08T12:00Z")
    assert proc.returncode == 0
    assert "monthly@2027-01-10T22:00:00Z: skipped: blackout january-freeze" in proc.stdout
    assert tick(site, "2027-01-10T22:10Z").stdout == ""


def test_a_window_that_passes_unapproved_is_reported(site):
    assert "planned" in tick(site, "2027-02-08T12:00Z").stdout
    proc = tick(site, "2027-02-11T01:00Z")
    assert proc.returncode == 1
    assert "skipped: the window passed without an approved plan" in proc.stdout


def test_sigkill_mid_batch_then_the_next_tick_finishes_only_what_was_left(site):
    downgrade()
    assert "planned" in tick(site, "2027-03-08T12:00Z").stdout
    applied = {r.plan_uid for r in apply_runs(site)}
    plan_uid = [p.plan_uid for p in plans(site) if p.plan_uid not in applied][-1]
    maint("approve", plan_uid[:16], "--key", "alice", cwd=site, check=True)
    proc = subprocess.Popen(
        [str(BIN / "maint"), "tick", "--at", "2027-03-10T22:10Z"],
        cwd=site, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    killed_in_batch = None
    while time.monotonic() < deadline and proc.poll() is None:
        with Log(site) as log, log.engine.connect() as conn:
            events = conn.execute(
                select(m.run_events.c.event, m.run_events.c.host)
                .join(m.runs, m.runs.c.id == m.run_events.c.run_id)
                .where(m.runs.c.plan_uid == plan_uid)
            ).all()
        starts = [e for e in events if e.event == "batch_start"]
        done = [e.host for e in events if e.event == "host_done"]
        if len(starts) == 2 and any(e.event == "runner_on_ok" for e in events[-20:]):
            killed_in_batch = done
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.2)
    proc.wait(timeout=60)
    assert killed_in_batch == [HOSTS[0]], "the tick was not killed inside the second batch"
    time.sleep(2)  # let the orphaned ansible process of the killed run notice and stop
    with Log(site) as log:
        assert log.verify().ok
    resumed = tick(site, "2027-03-10T22:20Z")
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
    with Log(site) as log:
        assert log.verify().ok
    assert len(runs) == 2
    assert states[0].state == "interrupted" and HOSTS[0] in states[0].message
    assert [(r, h) for r, h in done] == [(runs[0], HOSTS[0]), (runs[1], HOSTS[1])]
    assert versions() == {h: "1.1" for h in HOSTS}


def test_sigterm_mid_run_records_the_interruption_itself(site):
    downgrade()
    assert "planned" in tick(site, "2027-04-08T12:00Z").stdout
    applied = {r.plan_uid for r in apply_runs(site)}
    plan_uid = [p.plan_uid for p in plans(site) if p.plan_uid not in applied][-1]
    maint("approve", plan_uid[:16], "--key", "alice", cwd=site, check=True)
    proc = subprocess.Popen(
        [str(BIN / "maint"), "tick", "--at", "2027-04-10T22:10Z"],
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
        (run_id,) = conn.execute(select(m.runs.c.id).where(m.runs.c.plan_uid == plan_uid)).one()
        last = conn.execute(
            select(m.run_states.c.state, m.run_states.c.message)
            .where(m.run_states.c.run_id == run_id)
            .order_by(m.run_states.c.id.desc())
            .limit(1)
        ).one()
    assert last.state == "interrupted" and "Interrupted" in last.message
    with Log(site) as log:
        assert log.verify().ok
    finish = tick(site, "2027-04-10T22:20Z")
    assert finish.returncode == 0, finish.stdout + finish.stderr
    assert versions() == {h: "1.1" for h in HOSTS}
