"""Bad input a new user types: one line naming the file or server, exit 2, nothing changed.

Each case here printed a Python traceback (exit 1) or slipped through (a signed plan for no
host) before. The plan files are signed properly: the shape is wrong, not the signature.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from maintenance_runner.core.plan import make_file

BIN = Path(sys.executable).parent


def maint(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "maint"), *args],
        cwd=site,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MAINT_ANSIBLE_TUNING": "off"},
    )


def one_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("maint:", "Error:"))]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def config(site: Path, **changes) -> Path:
    start = datetime.now(UTC) - timedelta(minutes=10)
    body = {
        "inventory": "hosts.yml",
        "approvals": {"allowed_signers": "allowed_signers"},
        "windows": [
            {
                "name": "tonight",
                "schedule": "RRULE:FREQ=DAILY",
                "start": f"{start:%H:%M}",
                "timezone": "UTC",
                "duration": "2h",
                "tasks": ["patching"],
            }
        ],
        **changes,
    }
    path = site / "maint.yml"
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.fixture
def site(tmp_path):
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "a", "-f", str(tmp_path / "author")],
        check=True,
    )
    pub = (tmp_path / "author.pub").read_text().strip()
    (tmp_path / "allowed_signers").write_text(f"author@example.org {pub}\n")
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    h1:\n      ansible_host: 127.0.0.1\n")
    config(tmp_path)
    return tmp_path


def test_a_maint_yml_that_is_not_text(site):
    (site / "maint.yml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary")
    one_line(maint(site, "config", "check"), "maint.yml", "not a text file")


def test_an_actionlog_url_with_an_unknown_scheme(site):
    config(site, actionlog="mysql://db/maint")
    one_line(maint(site, "config", "check"), "maint.yml: actionlog:", "mysql")
    one_line(maint(site, "log"), "actionlog")


def test_an_action_log_file_that_is_not_a_database(site):
    (site / "junk.db").write_bytes(os.urandom(4096))
    config(site, actionlog="sqlite:///junk.db")
    one_line(maint(site, "log"), "junk.db", "not an action log database")
    one_line(maint(site, "log", "verify"), "junk.db")


def test_an_unreachable_postgresql_server(site):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket closes
    config(site, actionlog=f"postgresql://maint:secret@127.0.0.1:{port}/maint")
    line = one_line(maint(site, "log"), f"127.0.0.1:{port}", "cannot connect")
    assert "secret" not in line


def _signed(content: dict) -> dict:
    raw = make_file(content, None)
    raw["author"] = {"principal": "x", "signed_at": "2026-12-01T00:00:00Z", "signature": "s"}
    return raw


GOOD = {
    "window": "tonight",
    "tasks": ["patching"],
    "hosts": {"h1": {"tasks": {"patching": {"status": "ok"}}, "findings": []}},
    "inventory": {"path": "hosts.yml", "hash": "x"},
    "content": {"hash": "y"},
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"occurrence": "tomorrow"}, "plan.occurrence"),
        ({"hosts": {"h1": "everything"}}, "plan.hosts.h1"),
        ({"tasks": "patching"}, "plan.tasks"),
        ({"hosts": {"h1": {"tasks": {"patching": {"status": 3}}}}}, "plan.hosts.h1.tasks"),
    ],
)
def test_a_plan_file_with_fields_of_the_wrong_type(site, changes, field):
    path = site / "plan.json"
    path.write_text(json.dumps(_signed({**GOOD, **changes})))
    one_line(maint(site, "show", "plan.json"), "plan.json", field)
    one_line(maint(site, "apply", "plan.json"), "plan.json", field)


@pytest.mark.parametrize(
    ("inventory", "problem"),
    [
        ("all: [unclosed\n", "not valid YAML"),
        ("- h1\n- h2\n", "a mapping"),
        ("all:\n  hosts: {}\n", "no host"),
    ],
)
def test_an_inventory_that_is_not_one_is_refused_before_planning(site, inventory, problem):
    (site / "hosts.yml").write_text(inventory)
    proc = maint(site, "plan", "tonight", "--key", "author")
    one_line(proc, "hosts.yml", problem)
    assert not (site / ".maint" / "plans").exists(), "a plan was written"


def test_a_plan_for_no_host_is_refused_unless_asked_for(site):
    body = yaml.safe_load((site / "maint.yml").read_text())
    body["windows"][0]["targets"] = "servers"  # the inventory has no such group
    (site / "maint.yml").write_text(yaml.safe_dump(body))
    proc = maint(site, "plan", "tonight", "--key", "author")
    one_line(proc, "hosts.yml", "no host matched the window's targets 'servers'")
    assert not (site / ".maint" / "plans").exists(), "a plan was written"
    empty = maint(site, "plan", "tonight", "--key", "author", "--allow-empty")
    assert empty.returncode == 0, empty.stderr
    assert "hosts       0 (0 would change)" in empty.stdout
