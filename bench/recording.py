#!/usr/bin/env python3
"""Recording overhead: ``maint apply`` against bare ``ansible-playbook``, same playbook and hosts.

Both run from the collection root (its ansible.cfg) with the runner's Ansible environment.
Starts N lab hosts (fixture repository, already up to date: a no-op cycle), then alternates, R
times: (a) ``ansible-playbook`` of the collection's preventive playbook with the runner's own
Ansible environment, (b) ``maint apply`` of a freshly made and approved plan of the same tasks
(``--no-drift-check``: the drift check is a second, optional check run, measured separately by
``--with-drift``). Only the apply command is timed for (b): everything it does on top of Ansible
(loading maint.yml, verifying signatures with ssh-keygen, checking content and inventory hashes,
the window, the action log writes of every event and result) is the overhead. Prints medians
and the ratio, measured side by side in one run.

A third side, ``same``, is ``ansible-playbook`` doing exactly the Ansible work of the apply:
``--diff`` (apply records each change's diff). Facts come from a cache on every side: the bare
runs share the runner environment's cache, and apply reads its inventory's cache, which the
plan's check run filled (in a real window, the drift check does). ``apply / same`` is the
recording's own cost; ``same / bare`` is what ``--diff`` costs.

A fourth side, ``runner``, runs the same playbook through the runner's own call of
ansible-runner (``execution.run_playbook`` with ``--diff``, the apply's fact cache, every event
handed to a handler), in a Python process that does nothing else: ``runner / same`` is what
ansible-runner's event transport costs, ``apply / runner`` what maint adds around it (start,
plan checks, the action log).

    sudo .venv/bin/python bench/recording.py --hosts 10 --repeat 5
    sudo .venv/bin/python bench/recording.py --hosts 10 --repeat 3 \
        --tasks access_review,backup_verify,antivirus,patching,hardening
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from cycle import BENCH_VARS  # noqa: E402  (bench/cycle.py, beside this script)

from maintenance_runner.ansible.collection import (  # noqa: E402
    ansible_env,
    collection_root,
    playbook_path,
)


def sh(*args: str, cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=env, check=False)
    took = time.perf_counter() - start
    if proc.returncode not in (0,):
        raise SystemExit(
            f"{' '.join(args[:3])}... failed ({proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return took


RUNNER_SIDE = """
import json, sys
from maintenance_runner.ansible.execution import run_playbook
seen = []
outcome = run_playbook(
    "preventive", sys.argv[1], extravars=json.loads(sys.argv[2]), diff=True, on_event=seen.append
)
sys.exit(0 if outcome.rc == 0 and seen else 1)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tasks", default="patching", help="comma-separated preventive tasks")
    parser.add_argument("--base-port", type=int, default=4200)
    parser.add_argument("--with-drift", action="store_true", help="time apply with its drift check")
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    prefix = f"maint-bench-rec-{os.getpid()}"
    site = Path(tempfile.mkdtemp(prefix="maint-bench-"))
    maint = str(BIN / "maint")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for who in ("author", "alice"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(site / who)], check=True
        )
    (site / "allowed_signers").write_text(
        "".join(f"{w}@bench {(site / (w + '.pub')).read_text()}" for w in ("author", "alice"))
    )
    sh(
        maint,
        "lab",
        "up",
        "-n",
        str(args.hosts),
        "--base-port",
        str(args.base_port),
        "--prefix",
        prefix,
        "--state",
        str(site / "lab"),
        "--faults",
        "none",
        cwd=site,
        env=env,
    )
    start = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%H:%M")
    config = {
        "inventory": "lab/hosts.yml",
        "approvals": {"allowed_signers": "allowed_signers"},
        "windows": [
            {
                "name": "bench",
                "schedule": "RRULE:FREQ=DAILY",
                "start": start,
                "timezone": "UTC",
                "duration": "12h",
                "tasks": tasks,
                "batch": "100%",
                "max_fail": "100%",
            }
        ],
    }
    (site / "maint.yml").write_text(yaml.safe_dump(config))
    inventory = site / "lab" / "hosts.yml"
    if "hardening" in tasks:  # the lab sees no Debian mirror: no package-installing controls
        listing = yaml.safe_load(inventory.read_text())
        listing["all"]["children"]["lab"]["vars"].update(BENCH_VARS)
        inventory.write_text(yaml.safe_dump(listing))
    bare_env = {**env, **ansible_env()}
    extra = json.dumps({"maint_tasks": tasks, "maint_targets": "all"})
    times: dict[str, list[float]] = {"bare": [], "same": [], "runner": [], "apply": []}

    def run_bare(same: bool = False) -> float:
        """Bare ansible-playbook of the same playbook, from the collection root, same env.

        ``same``: with --diff, the Ansible work of maint apply.
        """
        playbook = str(playbook_path("preventive"))
        command = ["ansible-playbook", playbook, "-i", str(inventory), "-e", extra]
        if same:
            command.append("--diff")
        return sh(str(BIN / command[0]), *command[1:], cwd=collection_root(), env=bare_env)

    try:
        # one warm-up of each, not counted (SSH host keys, fact caches, page cache)
        run_bare()
        for round_ in range(args.repeat + 1):
            plan = site / f"plan-{round_}.json"
            sh(maint, "plan", "bench", "--key", "author", "--out", str(plan), cwd=site, env=env)
            sh(maint, "approve", str(plan), "--key", "alice", cwd=site, env=env)
            drift = [] if args.with_drift else ["--no-drift-check"]
            # the order alternates, so neither side always runs on a machine the other warmed
            sides = ("apply", "runner", "same", "bare")
            order = sides if round_ % 2 == 0 else tuple(reversed(sides))
            took: dict[str, float] = {}
            for side in order:
                if side == "apply":
                    took[side] = sh(maint, "apply", str(plan), *drift, cwd=site, env=env)
                elif side == "runner":
                    took[side] = sh(
                        sys.executable, "-c", RUNNER_SIDE, str(inventory), extra, cwd=site, env=env
                    )
                else:
                    took[side] = run_bare(same=side == "same")
            if round_:  # round 0 warms up maint apply
                for side in sides:
                    times[side].append(took[side])
            print(
                f"round {round_}: ansible-playbook {took['bare']:.1f}s"
                f"  same work {took['same']:.1f}s  runner {took['runner']:.1f}s"
                f"  maint apply {took['apply']:.1f}s",
                file=sys.stderr,
            )
    finally:
        subprocess.run([maint, "lab", "down", "--prefix", prefix], cwd=site, env=env, check=False)
    medians = {side: statistics.median(runs) for side, runs in times.items()}
    print(
        f"hosts={args.hosts} tasks={','.join(tasks)} repeat={args.repeat}"
        f" drift_check={'on' if args.with_drift else 'off'}"
    )
    labels = {
        "bare": "ansible-playbook",
        "same": "same work",
        "runner": "ansible-runner",
        "apply": "maint apply",
    }
    for side, label in labels.items():
        runs = [round(x, 2) for x in times[side]]
        print(f"{label:<16} median {medians[side]:.2f}s  runs {runs}")
    pairs = [a / s for a, s in zip(times["apply"], times["same"], strict=True)]
    print(f"ratio maint apply / ansible-playbook = {medians['apply'] / medians['bare']:.3f}")
    print(
        f"ratio maint apply / same work = {medians['apply'] / medians['same']:.3f}"
        f"  (per round {[round(x, 2) for x in pairs]})"
    )
    print(f"ratio same work / ansible-playbook = {medians['same'] / medians['bare']:.3f}")
    print(f"ratio ansible-runner / same work = {medians['runner'] / medians['same']:.3f}")
    print(f"ratio maint apply / ansible-runner = {medians['apply'] / medians['runner']:.3f}")


if __name__ == "__main__":
    main()
