"""Run collection playbooks through the ansible-runner Python API (the I/O edge).

Each run gets its own private data directory; environment files are never written there
(``suppress_env_files``), so credentials passed as extra variables do not land on disk.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import ansible_runner.runner
import pexpect

from maintenance_runner.ansible import tuning
from maintenance_runner.ansible.collection import ansible_env, collection_root, playbook_path
from maintenance_runner.ansible.guard import GUARD, RUN_VARIABLE
from maintenance_runner.core.results import TaskResult, collect_results, lean_event

EventHandler = Callable[[Mapping[str, Any]], None]

# Set by request_stop (the SIGTERM handler of a long run): ansible-runner cancels the running
# playbook through cancel_callback, and callers stop between runs.
STOP = threading.Event()


class Interrupted(SystemExit):
    """A stop was requested (SIGTERM): the running playbook was cancelled."""


def request_stop(_signum: int, _frame: object) -> None:
    STOP.set()


def check_stop() -> None:
    if STOP.is_set():
        raise Interrupted(143)


@dataclass
class RunOutcome:
    status: str
    rc: int
    results: list[TaskResult]
    events: list[Mapping[str, Any]] = field(repr=False)
    stats: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and all(r.status != "failed" for r in self.results)


class _Spawn(pexpect.spawn):
    """pexpect's spawn, through the guard (``guard.py``: the playbook dies with the runner),
    without the 0.1 s sleep after closing the pty of a finished child.

    ansible-runner waits for the playbook to exit (and for the pty's end of file) before it
    closes the pty; ptyprocess then sleeps 0.1 s "to give the kernel time" before reaping a
    process that is already a zombie. That was dead time at the end of every run, the apply's
    rollbacks and post-checks included. A child still alive at close is terminated as before.
    """

    def _spawnpty(self, args: list[str], **kwargs: Any) -> Any:
        process = super()._spawnpty([*GUARD, *args], **kwargs)
        process.delayafterclose = 0.0
        return process


# ansible-runner calls ``pexpect.spawn`` through its module's ``pexpect``: the module maint
# shares with it (nothing else in maint spawns a pty).
ansible_runner.runner.pexpect.spawn = _Spawn


def final_stats(events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The play recap (ok, changed, failures, dark, ...) from the ``playbook_on_stats`` event.

    Read from the events in memory: ansible-runner's ``Runner.stats`` re-reads every event file.
    """
    for event in reversed(events):
        if event.get("event") == "playbook_on_stats":
            data = event.get("event_data") or {}
            keys = ("skipped", "ok", "dark", "failures", "ignored", "rescued", "processed")
            return {key: dict(data.get(key) or {}) for key in (*keys, "changed")}
    return {}


def _env() -> dict[str, str]:
    """The ansible environment, with this Python's bin directory (a venv's) on PATH when
    ansible-playbook is not on PATH already (``maint`` run by its full path, or from cron)."""
    env = ansible_env()
    if shutil.which("ansible-playbook") is None:
        path = os.environ.get("PATH", os.defpath)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{path}"
    return env


def process_env() -> dict[str, str]:
    """The environment a playbook process gets: this process's, plus the runner's additions."""
    return {**os.environ, **_env()}


def _fact_cache(env: dict[str, str], inventory: Path, fresh: bool) -> str:
    """Point the run at its inventory's shared fact cache, when the environment caches facts in
    JSON files (the tuned settings do) and the run does not want ``fresh`` facts.

    Returns ansible-runner's ``fact_cache_type``: ``jsonfile`` makes it use a cache in the run's
    own artifact directory (every fact gathered afresh); anything else leaves the cache settings
    to ``env``.
    """
    effective = {**os.environ, **env}
    connection = effective.get("ANSIBLE_CACHE_PLUGIN_CONNECTION")
    if fresh or effective.get("ANSIBLE_CACHE_PLUGIN") != "jsonfile" or not connection:
        return "jsonfile"
    cache = tuning.inventory_fact_cache(Path(connection), inventory)
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)  # facts include the remote environment
    env["ANSIBLE_CACHE_PLUGIN"] = "jsonfile"
    env["ANSIBLE_CACHE_PLUGIN_CONNECTION"] = str(cache)
    return "shared"


def run_playbook(
    playbook: str,
    inventory: str | Path,
    *,
    extravars: Mapping[str, Any] | None = None,
    limit: str | None = None,
    check: bool = False,
    diff: bool = False,
    tags: Sequence[str] = (),
    private_data_dir: str | Path | None = None,
    on_event: EventHandler | None = None,
    quiet: bool = True,
    fresh_facts: bool = False,
    run_uid: str | None = None,
) -> RunOutcome:
    """Run ``playbooks/<playbook>.yml`` of the collection and collect role results.

    Facts come from the inventory's shared cache while they are fresh enough (tuning.py);
    ``fresh_facts`` gathers them again, into this run's own cache (the audit reads them from
    the run's events). ``run_uid`` marks every process of the run (``guard.reap``).

    The events are kept in memory, lean (``results.lean_event``); ``on_event`` sees each one
    whole. ansible-runner's own copy of each one on disk
    (``artifacts/*/job_events``) is written only when the caller gives ``private_data_dir``
    and so keeps the artifacts: otherwise it would be JSON-encoded into a temporary directory
    that is removed afterwards, on the runner's CPU, while Ansible needs that CPU.
    """
    events: list[Mapping[str, Any]] = []
    keep_artifacts = private_data_dir is not None

    def handle(event: Mapping[str, Any]) -> bool:
        if on_event is not None:
            on_event(event)
        events.append(lean_event(event))
        return keep_artifacts

    cmdline = []
    if check:
        cmdline.append("--check")
    if diff:
        cmdline.append("--diff")
    if tags:
        cmdline += ["--tags", ",".join(tags)]

    inventory_path = Path(inventory).resolve()
    env = _env()
    if run_uid:
        env[RUN_VARIABLE] = run_uid
    fact_cache_type = _fact_cache(env, inventory_path, fresh_facts)
    owned_tmp = None
    if private_data_dir is None:
        owned_tmp = tempfile.TemporaryDirectory(prefix="maint-run-")
        private_data_dir = owned_tmp.name
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            project_dir=str(collection_root()),
            playbook=str(playbook_path(playbook)),
            inventory=str(inventory_path),
            extravars=dict(extravars or {}),
            limit=limit,
            cmdline=" ".join(cmdline) or None,
            envvars=env,
            fact_cache_type=fact_cache_type,
            event_handler=handle,
            cancel_callback=STOP.is_set,  # also keeps ansible-runner off our signal handlers
            suppress_env_files=True,
            rotate_artifacts=10,
            quiet=quiet,
        )
        if runner.status == "canceled":
            raise Interrupted(143)
        return RunOutcome(
            status=str(runner.status),
            rc=int(runner.rc if runner.rc is not None else 1),
            results=collect_results(events),
            events=events,
            stats=final_stats(events),
        )
    finally:
        if owned_tmp is not None:
            owned_tmp.cleanup()
