"""Anchors: a signed checkpoint of the chain heads finds what the database alone cannot.

Truncation (the newest rows of a chain deleted together with its head) and a rewritten,
re-chained history both leave intact chains: ``maint log verify`` passes. A checkpoint written
before, checked with ``maint log verify --anchor``, names both. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import delete, update

from maintenance_runner.actionlog import models as m
from maintenance_runner.actionlog.store import ActionLog
from maintenance_runner.core.clock import SystemClock
from maintenance_runner.cycle.anchor import check_anchor, make_anchor, read_anchor, write_anchor

BIN = Path(sys.executable).parent


@pytest.fixture
def site(tmp_path, store_url):
    for who in ("tick", "mallory"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(tmp_path / who)],
            check=True,
        )
    pub = (tmp_path / "tick.pub").read_text().strip()
    (tmp_path / "allowed_signers").write_text(f"tick@example.org {pub}\n")
    config = {
        "actionlog": store_url,
        "tick": {"key": "tick"},
        "approvals": {"allowed_signers": "allowed_signers"},
    }
    (tmp_path / "maint.yml").write_text(yaml.safe_dump(config))
    with ActionLog(store_url) as log:
        for n in range(5):
            log.finish_run(log.start_run("w", run_uid=f"run-{n}"), "done")
        log.append("approvals", [approval(n) for n in range(3)])
    return tmp_path, store_url


def approval(n: int, who: str = "alice") -> dict:
    return {
        "plan_uid": f"p{n}",
        "approver": f"{who}@example.org",
        "decision": "approved",
        "signature": None,
        "comment": None,
    }


def anchor(site_dir: Path, url: str, key: str = "tick") -> Path:
    with ActionLog(url) as log:
        made = make_anchor(log, site_dir / key, SystemClock())
    return write_anchor(made, site_dir / "anchor.json")


def check(site_dir: Path, url: str, path: Path) -> list[str]:
    with ActionLog(url) as log:
        return check_anchor(log, read_anchor(path), site_dir / "allowed_signers").problems


def verify_cli(site_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "maint"), "log", "verify", *extra],
        cwd=site_dir,
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_untouched_log_matches_its_anchor(site):
    site_dir, url = site
    path = anchor(site_dir, url)
    with ActionLog(url) as log:
        log.start_run("w", run_uid="later")  # rows added after a checkpoint are fine
    assert check(site_dir, url, path) == []
    assert verify_cli(site_dir, "--anchor", str(path)).returncode == 0


def test_truncation_is_invisible_without_the_anchor_and_named_with_it(site):
    site_dir, url = site
    path = anchor(site_dir, url)
    with ActionLog(url) as log, log.engine.begin() as conn:
        # delete the two newest runs with their states, and move the heads back: intact chains
        states = m.run_states
        conn.execute(delete(states).where(states.c.id > 6))
        conn.execute(delete(m.runs).where(m.runs.c.id > 3))
        for table, target in (("runs", m.runs), ("run_states", states)):
            last = conn.execute(target.select().order_by(target.c.id.desc()).limit(1)).one()
            conn.execute(
                update(m.chain_heads)
                .where(m.chain_heads.c.table_name == table)
                .values(last_id=last.id, last_hash=last.row_hash)
            )
    assert verify_cli(site_dir).returncode == 0, "truncation is visible from inside after all?"
    problems = check(site_dir, url, path)
    assert any(p.startswith("runs: rows removed after the checkpoint") for p in problems)
    proc = verify_cli(site_dir, "--anchor", str(path))
    assert proc.returncode == 1
    assert "rows removed after the checkpoint" in proc.stderr


def test_a_rewritten_and_rechained_history_is_named(site):
    site_dir, url = site
    path = anchor(site_dir, url)
    with ActionLog(url) as log:
        with log.engine.begin() as conn:
            conn.execute(delete(m.approvals))
            conn.execute(
                update(m.chain_heads)
                .where(m.chain_heads.c.table_name == "approvals")
                .values(last_id=0, last_hash=m.GENESIS)
            )
        log.append("approvals", [approval(n, "mallory") for n in range(3)])  # same length
        assert log.verify().ok
    assert any("approvals id 3: rewritten" in p for p in check(site_dir, url, path))


def test_an_anchor_signed_by_an_unknown_key_is_refused(site):
    site_dir, url = site
    path = anchor(site_dir, url, key="mallory")
    problems = check(site_dir, url, path)
    assert problems and "signature is not valid" in problems[0]


def test_a_malformed_anchor_file_is_one_line_and_exit_2(site):
    site_dir, _url = site
    bad = site_dir / "bad.json"
    bad.write_text(json.dumps({"format": "maint-anchor/1", "heads": {"runs": {"id": "x"}}}))
    proc = verify_cli(site_dir, "--anchor", str(bad))
    assert proc.returncode == 2
    assert "bad.json: heads:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_maint_log_anchor_writes_a_signed_checkpoint(site):
    site_dir, _url = site
    proc = subprocess.run(
        [str(BIN / "maint"), "log", "anchor", "--out", "cp.json"],
        cwd=site_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    written = json.loads((site_dir / "cp.json").read_text())
    assert written["heads"]["runs"]["id"] == 5
    assert verify_cli(site_dir, "--anchor", "cp.json").returncode == 0
