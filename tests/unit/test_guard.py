"""The guard between the runner and ansible-playbook: real processes, real signals (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from maintenance_runner.ansible.guard import reap

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/environ").exists(), reason="needs Linux /proc (prctl, environ)"
)


def _sleepers(uid: str) -> list[int]:
    marker = f"MAINT_RUN_UID={uid}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_the_playbook_and_its_children_die_when_the_runner_is_killed():
    """A runner spawning through the guard is SIGKILLed: nothing of its run survives."""
    uid = f"run-test-{uuid.uuid4().hex[:8]}"
    runner = textwrap.dedent(
        f"""
        import os, time
        from maintenance_runner.ansible import execution
        env = {{**os.environ, "MAINT_RUN_UID": "{uid}"}}
        script = "sleep 300 & sleep 301 & sleep 302; wait"
        child = execution._Spawn("/bin/sh", ["-c", script], env=env)
        time.sleep(300)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", runner])
    try:
        assert _wait_for(lambda: len(_sleepers(uid)) >= 5), _sleepers(uid)  # guard, sh, 3 sleeps
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert _wait_for(lambda: not _sleepers(uid)), f"orphans left: {_sleepers(uid)}"
    finally:
        for pid in _sleepers(uid):
            os.kill(pid, signal.SIGKILL)


def test_reap_kills_what_is_left_of_a_run_and_waits_for_it():
    uid = f"run-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "MAINT_RUN_UID": uid}
    # a process that left its group and ignores SIGTERM: only SIGKILL by its marker finds it
    orphan = subprocess.Popen(
        ["sh", "-c", "trap '' TERM; sleep 300"], env=env, start_new_session=True
    )
    other = subprocess.Popen(["sleep", "300"])
    try:
        assert _wait_for(lambda: orphan.pid in _sleepers(uid))
        killed = reap(uid)
        assert orphan.pid in killed
        assert not _sleepers(uid)
        assert other.poll() is None, "reap killed a process of another run"
        assert reap(uid) == []
    finally:
        for p in (orphan, other):
            p.kill()
            p.wait()
