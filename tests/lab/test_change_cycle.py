"""Plan, approve, apply and roll back over SSH on lab hosts with the patching fixture repository.

Every refusal test asserts that nothing ran: no run in the action log and the hosts' package
versions unchanged. The last tests apply for real: one host is upgraded, the other has a planted
post-check failure and is rolled back automatically, then the first is rolled back by hand.
"""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from maintenance_runner.actionlog.plans import record_signature, signatures
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.config.load import load_config
from maintenance_runner.core.clock import SystemClock
from maintenance_runner.cycle.planning import pick_occurrence, sign_as_author, write_plan
from maintenance_runner.cycle.signing import Signer, message, sign

from .labkit import free_base, maint, signers

PREFIX = f"maint-cycle-{os.getpid()}"
HOSTS = [f"{PREFIX}-1", f"{PREFIX}-2"]
REFUSED = 3


def versions():
    found = {}
    for host in HOSTS:
        out = subprocess.run(
            ["podman", "exec", host, "dpkg-query", "-W", "-f", "${Version}", "maint-fixture"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found[host] = out.strip()
    return found


def window(start: datetime, **extra):
    base = {
        "name": "tonight",
        "schedule": "RRULE:FREQ=DAILY",
        "start": start.strftime("%H:%M"),
        "timezone": "UTC",
        "duration": "6h",
        "cutoff": "30m",
        "tasks": ["patching"],
        "batch": 1,
        "max_fail": 1,
        "post_checks": [{"name": "planted", "command": "test ! -e /etc/maint-planted-failure"}],
    }
    return {**base, **extra}


def write_config(site: Path, name: str, win: dict, **top) -> Path:
    config = {
        "inventory": "lab/hosts.yml",
        "approvals": {
            "allowed_signers": "allowed_signers",
            "groups": {
                "ops": ["alice@example.org", "bob@example.org", "author@example.org"],
                "emergency": ["bob@example.org"],
            },
            "policies": {"normal": {"approvals": 1, "groups": ["ops"], "expires": "2h"}},
        },
        "windows": [win],
        **top,
    }
    path = site / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    signers(site, ["author", "alice", "bob"], outsiders=["mallory"])
    base = free_base(2, 2700, 3200)
    up = maint(
        "lab", "up", "-n", "2", "--base-port", str(base), "--prefix", PREFIX,
        "--state", str(site / "lab"), "--fixture", cwd=site,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    now = datetime.now(UTC)
    write_config(site, "maint.yml", window(now - timedelta(minutes=10)))
    try:
        planned = maint("plan", "tonight", "--key", "author", "--out", "plan.json", cwd=site)
        assert planned.returncode == 0, planned.stderr
        yield site
    finally:
        maint("lab", "down", "--prefix", PREFIX, cwd=site)


def runs(site: Path, config: str = "maint.yml") -> int:
    log = ActionLog(load_config(site / config).actionlog_url)
    try:
        return log.count("runs")
    finally:
        log.close()


def variant(site: Path, name: str, config: str = "maint.yml", **changes) -> Path:
    """A new, properly author-signed plan: the base plan's content with ``changes``."""
    raw = json.loads((site / "plan.json").read_text())
    content = copy.deepcopy(raw["plan"])
    content.update(changes)
    content["created_at"] = f"{name}-{datetime.now(UTC).isoformat()}"  # a distinct id
    signed = sign_as_author(content, Signer("author@example.org", site / "author"), SystemClock())
    path = site / f"{name}.json"
    write_plan(signed, path)
    return path


def approve_in_log(site: Path, plan: Path, key: str, principal: str, *, age=timedelta(0),
                   sign_id: str | None = None) -> None:  # fmt: skip
    """Record a real ssh-keygen signature (possibly old, or over another id) in the log."""
    plan_id = json.loads(plan.read_text())["id"]
    when = (datetime.now(UTC) - age).replace(microsecond=0)
    signature = sign(site / key, message("approve", sign_id or plan_id, when))
    log = ActionLog(load_config(site / "maint.yml").actionlog_url)
    try:
        record_signature(log, plan_id, principal, "approved", when, signature)
    finally:
        log.close()


def refused(
    site: Path,
    plan: Path | str,
    *extra: str,
    config: str = "maint.yml",
    env: dict[str, str] | None = None,
) -> str:
    before_runs, before_versions = runs(site, config), versions()
    proc = maint("apply", str(plan), "--config", config, *extra, cwd=site, env=env)
    assert proc.returncode == REFUSED, f"{proc.stdout}\n{proc.stderr}"
    assert "nothing was run" in proc.stderr
    assert runs(site, config) == before_runs, "a refused apply recorded a run"
    assert versions() == before_versions, "a refused apply changed a host"
    return proc.stderr


def test_the_plan_lists_the_exact_package_changes_per_host(site):
    raw = json.loads((site / "plan.json").read_text())
    assert sorted(raw["plan"]["hosts"]) == HOSTS
    for host in HOSTS:
        items = raw["plan"]["hosts"][host]["tasks"]["patching"]["items"]
        assert "package maint-fixture 1.0 -> 1.1 (upgrade)" in items
    shown = maint("show", "plan.json", "--html", "plan.html", cwd=site, check=True)
    assert raw["id"] in shown.stdout and "maint-fixture 1.0 -> 1.1" in shown.stdout
    assert "<svg" in (site / "plan.html").read_text()


def test_unapproved(site):
    assert "0 of 1 required approval" in refused(site, site / "plan.json")


def decisions(site: Path, plan: Path) -> list[tuple[str, str]]:
    plan_id = json.loads(plan.read_text())["id"]
    log = ActionLog(load_config(site / "maint.yml").actionlog_url)
    try:
        return [(d["approver"], d["decision"]) for d in signatures(log, plan_id)]
    finally:
        log.close()


def test_author_only_approval(site):
    plan = variant(site, "author-only")
    before = decisions(site, plan)
    proc = maint("approve", str(plan), "--key", "author", cwd=site)
    assert proc.returncode == REFUSED, f"{proc.stdout}\n{proc.stderr}"
    assert "author@example.org is its author" in proc.stderr
    assert decisions(site, plan) == before, "the author's approval was recorded"
    # An author's approval in the log (written before this rule) still never counts.
    approve_in_log(site, plan, "author", "author@example.org")
    assert "is the plan's author and does not count" in refused(site, plan)


def test_expired_approval(site):
    plan = variant(site, "expired")
    approve_in_log(site, plan, "alice", "alice@example.org", age=timedelta(hours=3))
    assert "the approval by alice@example.org expired" in refused(site, plan)


def test_tampered_plan(site):
    raw = json.loads((site / "plan.json").read_text())
    raw["plan"]["batch"] = "100%"
    (site / "tampered.json").write_text(json.dumps(raw))
    assert "edited after it was made" in refused(site, site / "tampered.json")


def test_bad_signature(site):
    plan = variant(site, "badsig")
    approve_in_log(site, plan, "alice", "alice@example.org", sign_id="0" * 64)
    assert "bad signature" in refused(site, plan)


def test_unknown_signer(site):
    plan = variant(site, "unknown")
    proc = maint("approve", str(plan), "--key", "mallory", cwd=site)
    assert proc.returncode == 2 and "not in the allowed_signers file" in proc.stderr
    approve_in_log(site, plan, "mallory", "alice@example.org")  # claims to be alice
    assert "not in the allowed_signers file" in refused(site, plan)


def test_rejected(site):
    plan = variant(site, "rejected")
    maint("approve", str(plan), "--key", "alice", cwd=site, check=True)
    maint("reject", str(plan), "--key", "bob", "--reason", "not this week", cwd=site, check=True)
    assert "rejected by bob@example.org" in refused(site, plan)


def test_a_deleted_rejection_is_noticed_before_it_is_trusted(site):
    plan = variant(site, "deleted-rejection")
    maint("approve", str(plan), "--key", "alice", cwd=site, check=True)
    maint("reject", str(plan), "--key", "bob", "--reason", "not this week", cwd=site, check=True)
    db = site / ".maint" / "actionlog.db"
    with sqlite3.connect(db) as conn:
        (row,) = conn.execute(
            "SELECT max(id) FROM approvals WHERE decision = 'rejected'"
        ).fetchone()
        conn.execute("DELETE FROM approvals WHERE id = ?", (row,))
    try:
        err = refused(site, plan)
        assert "the action log is not intact" in err and "approvals" in err
    finally:  # the other tests share this log: put the chain back in order
        with sqlite3.connect(db) as conn:
            conn.execute("DELETE FROM approvals WHERE id > ?", (row - 1,))
            last = conn.execute(
                "SELECT id, row_hash FROM approvals ORDER BY id DESC LIMIT 1"
            ).fetchone()
            conn.execute(
                "UPDATE chain_heads SET last_id = ?, last_hash = ? WHERE table_name = 'approvals'",
                last,
            )
        log = ActionLog(load_config(site / "maint.yml").actionlog_url)
        try:
            assert log.verify(["approvals"]).ok
        finally:
            log.close()


def test_an_ansible_variable_set_after_the_approval(site):
    plan = variant(site, "environment")
    maint("approve", str(plan), "--key", "alice", cwd=site, check=True)
    err = refused(site, plan, env={"ANSIBLE_BECOME_USER": "nobody"})
    assert "env ANSIBLE_BECOME_USER added" in err


def test_a_window_duration_changed_after_the_approval(site):
    base = yaml.safe_load((site / "maint.yml").read_text())["windows"][0]
    cfg = write_config(site, "duration.yml", {**base, "duration": "5h"})
    plan = variant(site, "duration")
    maint("approve", str(plan), "--key", "alice", cwd=site, check=True)
    assert "window tonight.duration" in refused(site, plan, config=cfg.name)


def test_changed_content_revision(site):
    plan = variant(site, "content")
    maint("approve", str(plan), "--key", "alice", cwd=site, check=True)
    extra = Path(__file__).resolve().parents[2] / "plugins" / f".content-test-{os.getpid()}"
    extra.write_text("a change to the collection after the plan\n")
    try:
        assert "the content revision changed" in refused(site, plan)
    finally:
        extra.unlink()


def test_changed_inventory(site):
    plan = variant(site, "inventory")
    maint("approve", str(plan), "--key", "alice", cwd=site, check=True)
    inventory = site / "lab" / "hosts.yml"
    original = inventory.read_text()
    inventory.write_text(original + "# edited\n")
    try:
        assert "the inventory changed" in refused(site, plan)
    finally:
        inventory.write_text(original)


def test_drift(site):
    raw = json.loads((site / "plan.json").read_text())
    hosts = copy.deepcopy(raw["plan"]["hosts"])
    for entry in hosts.values():  # a plan that promised no package change
        entry["tasks"]["patching"].update(items=[], changes=[], status="ok")
    plan = variant(site, "drift", hosts=hosts)
    maint("approve", str(plan), "--key", "alice", cwd=site, check=True)
    err = refused(site, plan)
    assert "a live check predicts changes the plan does not contain" in err
    assert f"{HOSTS[0]}: patching: package maint-fixture 1.0 -> 1.1" in err


def test_closed_window(site):
    later = write_config(site, "later.yml", window(datetime.now(UTC) + timedelta(hours=3)))
    plan = variant(site, "closed")
    maint("approve", str(plan), "--key", "alice", cwd=site, check=True)
    assert "is closed for this plan's occurrence" in refused(site, plan, config=later.name)


def test_past_cutoff(site):
    cfg = write_config(
        site, "cutoff.yml", window(datetime.now(UTC) - timedelta(minutes=50), duration="1h")
    )
    config = load_config(cfg)
    occ = pick_occurrence(config.windows[0], config, datetime.now(UTC), None)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    occurrence = {
        "key": occ.key,
        "start": occ.start.strftime(fmt),
        "end": occ.end.strftime(fmt),
        "cutoff": occ.cutoff.strftime(fmt),
        "timezone": "UTC",
    }
    plan = variant(site, "cutoff", occurrence=occurrence)
    maint("approve", str(plan), "--key", "alice", "--config", cfg.name, cwd=site, check=True)
    assert "past its cutoff" in refused(site, plan, config=cfg.name)


def test_blackout(site):
    today = datetime.now(UTC).date()
    base = yaml.safe_load((site / "maint.yml").read_text())["windows"][0]
    freeze = [[str(today - timedelta(days=1)), str(today + timedelta(days=1))]]
    cfg = write_config(
        site,
        "blackout.yml",
        {**base, "blackout": ["freeze"]},
        calendars={"freeze": {"ranges": freeze}},
    )
    plan = variant(site, "blackout")
    maint("approve", str(plan), "--key", "alice", cwd=site, check=True)
    assert "blacked out" in refused(site, plan, config=cfg.name)


def test_apply_upgrades_one_host_and_rolls_back_the_planted_failure(site):
    maint("approve", "plan.json", "--key", "alice", "-m", "go", cwd=site, check=True)
    subprocess.run(["podman", "exec", HOSTS[1], "touch", "/etc/maint-planted-failure"], check=True)
    assert versions() == {HOSTS[0]: "1.0", HOSTS[1]: "1.0"}
    proc = maint("apply", "plan.json", cwd=site)
    assert proc.returncode == 1, f"{proc.stdout}\n{proc.stderr}"
    assert versions() == {HOSTS[0]: "1.1", HOSTS[1]: "1.0"}
    assert f"{HOSTS[1]}: rolled back: post-check failed: planted" in proc.stdout

    lines = maint("log", "--json", "--limit", "0", cwd=site, check=True).stdout.splitlines()
    story = [json.loads(line) for line in lines if line.strip()]
    by_host = {(r["host"], r["task"]): r["status"] for r in story}
    assert by_host[(HOSTS[0], "patching")] == "changed"
    assert by_host[(HOSTS[0], "post_check")] == "ok"
    assert by_host[(HOSTS[1], "post_check")] == "failed"
    log = ActionLog(load_config(site / "maint.yml").actionlog_url)
    try:
        from sqlalchemy import select

        from maintenance_runner.actionlog import models as m

        with log.engine.connect() as conn:
            rollbacks = conn.execute(select(m.rollbacks)).all()
            run = conn.execute(select(m.runs).where(m.runs.c.mode == "apply")).one()
            approvals = (
                conn.execute(
                    select(m.approvals.c.approver).where(m.approvals.c.plan_uid == run.plan_uid)
                )
                .scalars()
                .all()
            )
            events = (
                conn.execute(select(m.run_events.c.event).where(m.run_events.c.run_id == run.id))
                .scalars()
                .all()
            )
        assert [(r.host, r.task, r.status) for r in rollbacks] == [(HOSTS[1], "patching", "ok")]
        assert "alice@example.org" in approvals and "author@example.org" in approvals
        assert events.count("batch_start") == 2 and "rolled_back" in events
        assert events.count("runner_on_ok") > 10
        assert log.verify().ok
    finally:
        log.close()
    site.joinpath("run_uid").write_text(run.run_uid)


def test_rollback_by_hand_restores_the_exact_old_version(site):
    run_uid = site.joinpath("run_uid").read_text()
    proc = maint("rollback", run_uid, "--host", HOSTS[0], cwd=site)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert versions() == {HOSTS[0]: "1.0", HOSTS[1]: "1.0"}
    again = maint("rollback", run_uid, cwd=site, check=True)
    assert "nothing left to roll back" in again.stdout


def test_emergency_change_needs_the_emergency_group_and_is_recorded(site):
    plan = variant(site, "emergency")
    denied = refused(site, plan, "--emergency", "--reason", "zero-day", "--key", "alice")
    assert "alice@example.org is not in the emergency group" in denied
    proc = maint(
        "apply", str(plan), "--emergency", "--reason", "zero-day", "--key", "bob", cwd=site
    )
    assert proc.returncode in (0, 1), proc.stderr  # host 2 still has its planted failure
    assert versions()[HOSTS[0]] == "1.1"
    plan_id = json.loads(plan.read_text())["id"]
    log = ActionLog(load_config(site / "maint.yml").actionlog_url)
    try:
        from sqlalchemy import select

        from maintenance_runner.actionlog import models as m

        with log.engine.connect() as conn:
            rows = conn.execute(
                select(m.approvals.c.approver, m.approvals.c.decision, m.approvals.c.comment).where(
                    m.approvals.c.plan_uid == plan_id
                )
            ).all()
            notes = (
                conn.execute(
                    select(m.run_events.c.message)
                    .join(m.runs, m.runs.c.id == m.run_events.c.run_id)
                    .where((m.runs.c.plan_uid == plan_id) & (m.run_events.c.event == "note"))
                )
                .scalars()
                .all()
            )
    finally:
        log.close()
    assert ("bob@example.org", "emergency", "zero-day") in [tuple(r) for r in rows]
    assert "emergency change by bob@example.org" in notes
