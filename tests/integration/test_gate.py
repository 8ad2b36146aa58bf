"""The gate against a user who pokes at it, without lab hosts: every case is refused before a
host would be touched, so a plan for an inventory of one unreachable host is enough.

- a row deleted from the action log (a signed rejection) refuses the apply, naming the chain;
- ansible.cfg, an ANSIBLE_* variable or the window's duration changed after the approval refuse
  the apply, naming what changed;
- the plan's author cannot approve it (exit 3, nothing recorded);
- ``maint tick --at`` rehearses: nothing is planned, applied or recorded.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from maintenance_runner.actionlog.plans import run_hosts, run_list, signatures
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.ansible.execution import RunOutcome
from maintenance_runner.config.load import load_config
from maintenance_runner.core.clock import FixedClock, SystemClock
from maintenance_runner.core.results import TaskResult
from maintenance_runner.cycle.apply import run_apply
from maintenance_runner.cycle.gate import Gate
from maintenance_runner.cycle.planning import (
    build_plan,
    pick_occurrence,
    read_plan,
    record_planned,
    sign_as_author,
    write_plan,
)
from maintenance_runner.cycle.signing import Signer

BIN = Path(sys.executable).parent
REFUSED = 3


def maint(site: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [str(BIN / "maint"), *args],
        cwd=site,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def keys(site: Path, names: list[str]) -> None:
    lines = []
    for who in names:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(site / who)],
            check=True,
        )
        lines.append(f"{who}@example.org {(site / (who + '.pub')).read_text().strip()}\n")
    (site / "allowed_signers").write_text("".join(lines))


def site_config(start: datetime, duration: str = "2h") -> dict:
    return {
        "inventory": "hosts.yml",
        "tick": {"key": "tick"},
        "approvals": {
            "allowed_signers": "allowed_signers",
            "groups": {"ops": ["alice@example.org", "bob@example.org"]},
            "policies": {"normal": {"approvals": 1, "groups": ["ops"]}},
        },
        "windows": [
            {
                "name": "tonight",
                "schedule": "RRULE:FREQ=DAILY",
                "start": f"{start:%H:%M}",
                "timezone": "UTC",
                "duration": duration,
                "cutoff": "30m",
                "lead_time": "3h",
                "tasks": ["patching"],
            }
        ],
    }


@pytest.fixture
def site(tmp_path):
    keys(tmp_path, ["author", "alice", "bob", "tick"])
    (tmp_path / "hosts.yml").write_text(
        "all:\n  hosts:\n    ghost:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n"
    )
    (tmp_path / "ansible.cfg").write_text("[defaults]\nforks = 5\n")
    start = datetime.now(UTC) - timedelta(minutes=10)
    (tmp_path / "maint.yml").write_text(yaml.safe_dump(site_config(start)))
    return tmp_path


def make_plan(site: Path) -> Path:
    """A plan signed by its author and recorded, as ``maint plan`` makes one (no host answers,
    so the check run is replaced by an empty outcome)."""
    config = load_config(site / "maint.yml")
    window = config.window("tonight")
    clock = SystemClock()
    occ = pick_occurrence(window, config, clock.now(), None)
    ghost = TaskResult(host="ghost", task="patching", status="ok")
    outcome = RunOutcome(status="successful", rc=0, results=[ghost], events=[])
    content = build_plan(config, window, occ, site / "hosts.yml", None, outcome, clock)
    plan = sign_as_author(content, Signer("author@example.org", site / "author"), clock)
    path = site / "plan.json"
    write_plan(plan, path)
    with ActionLog(config.actionlog_url) as log:
        record_planned(log, plan, log.record_occurrence(occ.slot))
    return path


def counts(site: Path) -> dict[str, int]:
    with ActionLog(load_config(site / "maint.yml").actionlog_url) as log:
        return {t: log.count(t) for t in ("runs", "plans", "approvals", "occurrence_states")}


def refused(site: Path, plan: Path, env: dict[str, str] | None = None) -> str:
    before = counts(site)
    proc = maint(site, "apply", str(plan), "--no-drift-check", env=env)
    assert proc.returncode == REFUSED, f"{proc.stdout}\n{proc.stderr}"
    assert "nothing was run" in proc.stderr
    assert counts(site)["runs"] == before["runs"], "a refused apply recorded a run"
    return proc.stderr


def test_a_deleted_rejection_row_refuses_the_apply(site):
    plan = make_plan(site)
    assert maint(site, "approve", str(plan), "--key", "alice").returncode == 0
    assert maint(site, "reject", str(plan), "--key", "bob", "-m", "not today").returncode == 0
    db = site / ".maint" / "actionlog.db"
    with sqlite3.connect(db) as conn:
        (row,) = conn.execute("SELECT id FROM approvals WHERE decision = 'rejected'").fetchone()
        conn.execute("DELETE FROM approvals WHERE id = ?", (row,))
    why = refused(site, plan)
    assert "the action log is not intact" in why
    assert f"approvals id {row}" in why or "approvals" in why


def test_an_ansible_cfg_edited_after_the_approval_refuses_the_apply(site):
    env = {"ANSIBLE_CONFIG": str(site / "ansible.cfg")}
    plan = make_plan_with_env(site, env)
    assert maint(site, "approve", str(plan), "--key", "alice", env=env).returncode == 0
    (site / "ansible.cfg").write_text("[defaults]\nforks = 5\nbecome_user = nobody\n")
    assert "ansible.cfg changed" in refused(site, plan, env)


def test_an_ansible_variable_set_after_the_approval_refuses_the_apply(site):
    plan = make_plan(site)
    assert maint(site, "approve", str(plan), "--key", "alice").returncode == 0
    why = refused(site, plan, {"ANSIBLE_BECOME_USER": "nobody"})
    assert "env ANSIBLE_BECOME_USER added" in why


def test_a_window_duration_changed_after_the_approval_refuses_the_apply(site):
    plan = make_plan(site)
    assert maint(site, "approve", str(plan), "--key", "alice").returncode == 0
    config = yaml.safe_load((site / "maint.yml").read_text())
    config["windows"][0]["duration"] = "3h"
    (site / "maint.yml").write_text(yaml.safe_dump(config))
    assert "window tonight.duration" in refused(site, plan)


def test_the_author_cannot_approve_their_own_plan(site):
    plan = make_plan(site)
    before = counts(site)
    proc = maint(site, "approve", str(plan), "--key", "author")
    assert proc.returncode == REFUSED, proc.stderr
    assert "author@example.org is its author" in proc.stderr
    assert counts(site) == before
    with ActionLog(load_config(site / "maint.yml").actionlog_url) as log:
        plan_id = json.loads(plan.read_text())["id"]
        assert [d["decision"] for d in signatures(log, plan_id)] == ["author"]


def test_a_tick_at_another_time_only_rehearses(site):
    plan = make_plan(site)
    assert maint(site, "approve", str(plan), "--key", "alice").returncode == 0
    before = counts(site)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    proc = maint(site, "tick", "--at", f"{tomorrow:%Y-%m-%dT%H:%M}Z")
    assert "rehearses" in proc.stderr, proc.stderr
    assert "would" in proc.stdout, proc.stdout
    assert counts(site) == before, "a rehearsal recorded something"


def make_plan_with_env(site: Path, env: dict[str, str]) -> Path:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return make_plan(site)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_an_apply_whose_cutoff_comes_before_the_first_batch_runs_nothing(site):
    """Recorded like the deferral it is, and reported like the refusal it amounts to."""
    plan_path = make_plan(site)
    config = load_config(site / "maint.yml")
    plan = read_plan(str(plan_path))
    late = FixedClock(plan.content.occurrence.cutoff + timedelta(seconds=1))
    with ActionLog(config.actionlog_url) as log:
        summary = run_apply(plan, config, log, late, Gate(), True, None, "tester")
        assert summary.nothing_ran and summary.state == "deferred"
        (run,) = [r for r in run_list(log) if r["run_uid"] == summary.run_uid]
        assert run["state"] == "deferred"
        assert run_hosts(log, run["id"], "deferred") == ["ghost"]
        assert run_hosts(log, run["id"], "host_start") == []  # no batch started
