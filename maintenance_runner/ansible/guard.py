"""Ansible dies with the runner: the guard between the runner and ``ansible-playbook``.

ansible-runner starts the playbook in a pseudo-terminal, as the leader of a new session and
process group; the playbook's workers and their SSH clients join that group. When the runner
is killed (even with SIGKILL), its children are orphaned and would finish the host in flight
unrecorded. So every playbook is started through this guard (``python -m
maintenance_runner.ansible.guard ansible-playbook ...``), which:

- asks Linux to send it SIGTERM when the runner dies (``PR_SET_PDEATHSIG``), and exits at once
  if the runner is already gone;
- runs the playbook as its child, in its own process group;
- on SIGTERM, SIGHUP or SIGINT (the runner died, or cancelled the run) kills the whole group
  with SIGKILL: the playbook, its workers and their SSH clients, and itself.

Every process of an apply also carries ``MAINT_RUN_UID`` in its environment, so what is left of
a killed run on this machine can be found and killed (:func:`reap`) before the next apply of
that plan goes on. Linux only (``/proc``, ``prctl``); elsewhere the guard just runs the command.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
RUN_VARIABLE = "MAINT_RUN_UID"
GUARD = [sys.executable, "-m", "maintenance_runner.ansible.guard"]


def _die_with_parent(signum: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the group is still killed on a signal
        pass


def _kill_group(_signum: int, _frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(os.getpgrp(), signal.SIGKILL)  # the guard goes too


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m maintenance_runner.ansible.guard COMMAND [ARG...]", file=sys.stderr)
        return 2
    parent = os.getppid()
    _die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:  # the runner died before the request took effect
        return 137
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, _kill_group)
    child = subprocess.Popen(argv)
    while True:
        try:
            code = child.wait()
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
    return code if code >= 0 else 128 - code


def _carriers(uid: str) -> list[int]:
    """Processes on this machine whose environment carries ``MAINT_RUN_UID=uid``."""
    marker = f"{RUN_VARIABLE}={uid}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def reap(uid: str, timeout: float = 15.0) -> list[int]:
    """Kill what is left of run ``uid`` on this machine and wait until it is gone.

    Returns the pids that were killed (empty when nothing was left). Raises TimeoutError when
    a process outlives ``timeout`` seconds (it holds the host: nothing may start beside it).
    """
    if not Path("/proc/self/environ").exists():
        return []
    killed = _carriers(uid)
    for pid in killed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while True:
        alive = [pid for pid in killed if _alive(pid)]
        if not alive:
            return killed
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes of run {uid} outlived SIGKILL: {alive}")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped by its parent


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
