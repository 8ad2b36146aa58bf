"""The Ansible settings the runner starts every ansible process with, for speed.

``tuned_settings`` is pure: given the control node's CPU count (and optionally the number of
hosts) it returns ``ANSIBLE_*`` environment variables. ``runner_env`` is the edge that
``collection.ansible_env`` calls: it reads the CPU count and cache directory, leaves out any
variable the caller's environment already sets (so one setting can be overridden with its
``ANSIBLE_*`` variable), and returns nothing at all when ``MAINT_ANSIBLE_TUNING=off`` (Ansible's
own defaults and ansible.cfg apply then). Measurements behind each choice: docs/performance.md.

What is set, and why:

* pipelining: one SSH exec per module instead of mkdir/put/chmod/exec/rm round trips (sudo
  works with it: the lab image and Debian's sudoers have no ``requiretty``).
* SSH multiplexing: ``ControlMaster=auto`` with ``ControlPersist`` long enough that a host's
  connection survives the gap between two of its tasks in a 200-host run with linear strategy
  (Ansible's 60 s does not); a hashed ``ControlPath`` (``%C``) in a short directory, so the
  socket path fits the 108-byte limit for any host name. No ``-C``: compressing small pipelined
  payloads costs CPU on both ends, and the CPU is the bottleneck of a small control node.
* forks sized for the machine: SSH-bound workers wait most of the time, so several per CPU.
* fact caching in a JSON file directory with ``gathering = smart``: facts gathered once are
  reused by later plays until they are an hour old. maint's runs share one cache per inventory
  (``inventory_fact_cache``: a subdirectory named by a digest of the inventory's path, so two
  inventories that both have a ``web1`` never read each other's facts): the apply reuses what
  the plan's or the drift check's check run gathered. The audit is the exception: it reads the
  facts from its run's events, so it gathers every fact afresh (``execution.run_playbook``'s
  ``fresh_facts``). The collection's playbooks gather the ``min`` subset (all their roles read)
  unless ``maint_gather_subset`` says otherwise; the audit asks for ``all``.
* callbacks: no skipped-host lines on the display, no retry files.
* mitogen (``maint_mitogen_linear``, in ``ansible/plugins/strategy``): mitogen's linear strategy
  keeps one Python interpreter per host for the whole run instead of starting one for every
  task, over the same SSH connection, sudo included. On the lab fleet it cut the hosts' CPU to
  a quarter and the cycle's wall time by half; the plugin leaves mitogen's CPU pinning
  out, lists the installed collections once per run, and sleeps while every worker is busy
  (see its docstring). ansible-core warns that strategy plugins outside ansible.builtin are
  deprecated, once per run.

``MAINT_ANSIBLE_TUNING=ssh`` keeps every setting above but mitogen (Ansible's own linear
strategy); ``MAINT_ANSIBLE_TUNING=off`` sets nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

from maintenance_runner.errors import InputError

SWITCH = "MAINT_ANSIBLE_TUNING"
OFF_VALUES = frozenset({"0", "off", "false", "no"})
SSH_ONLY = "ssh"  # every tuned setting but mitogen
STRATEGY = "maint_mitogen_linear"
STRATEGY_DIR = Path(__file__).resolve().parent / "plugins" / "strategy"

FORKS_PER_CPU = 8
MIN_FORKS = 5  # Ansible's default: never fewer
MAX_FORKS = 50  # each worker is a forked ansible process; beyond this, memory grows, time does not
CONTROL_PERSIST_SECONDS = 300
FACT_CACHE_TIMEOUT_SECONDS = 3600


def forks_for(cpu_count: int, host_count: int | None = None) -> int:
    """Worker processes for this control node: FORKS_PER_CPU per CPU, within bounds."""
    forks = max(MIN_FORKS, min(MAX_FORKS, max(1, cpu_count) * FORKS_PER_CPU))
    if host_count is not None and host_count > 0:
        forks = min(forks, max(host_count, 1))
    return forks


class TuningError(InputError):
    """MAINT_ANSIBLE_TUNING asks for something this installation cannot do."""


def tuned_settings(
    cpu_count: int,
    cache_dir: Path,
    host_count: int | None = None,
    strategy_dir: Path | None = None,
) -> dict[str, str]:
    """The ANSIBLE_* environment of a tuned run (pure).

    ``strategy_dir``: where the ``maint_mitogen_linear`` strategy plugin is, to run with mitogen.
    """
    settings = {
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": (
            f"-o ControlMaster=auto -o ControlPersist={CONTROL_PERSIST_SECONDS}s"
            " -o ServerAliveInterval=30"
        ),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(cache_dir / "cp"),
        "ANSIBLE_SSH_CONTROL_PATH": "%(directory)s/%%C",
        "ANSIBLE_FORKS": str(forks_for(cpu_count, host_count)),
        "ANSIBLE_GATHERING": "smart",
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(cache_dir / "facts"),
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": str(FACT_CACHE_TIMEOUT_SECONDS),
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
    if strategy_dir is not None:
        settings["ANSIBLE_STRATEGY_PLUGINS"] = str(strategy_dir)
        settings["ANSIBLE_STRATEGY"] = STRATEGY
    return settings


def mode(base: Mapping[str, str]) -> str:
    """MAINT_ANSIBLE_TUNING: "off" (also 0, false, no), "ssh", or "on" (anything else)."""
    value = base.get(SWITCH, "").strip().lower()
    if value in OFF_VALUES:
        return "off"
    return SSH_ONLY if value == SSH_ONLY else "on"


def mitogen_strategy_dir() -> Path:
    """The directory of the mitogen strategy plugin; TuningError when mitogen is missing."""
    if importlib.util.find_spec("ansible_mitogen") is None:
        raise TuningError(
            "mitogen is not installed in this Python (pip install mitogen);"
            f" {SWITCH}=ssh runs without it"
        )
    return STRATEGY_DIR


def tuning_dir(base: Mapping[str, str]) -> Path:
    """Where the SSH control sockets and the fact cache live: <XDG cache>/maint/ansible."""
    cache = base.get("XDG_CACHE_HOME") or str(Path(base.get("HOME") or Path.home()) / ".cache")
    return Path(cache) / "maint" / "ansible"


def inventory_fact_cache(cache: Path, inventory: Path) -> Path:
    """The fact cache of runs against ``inventory`` (an absolute path): a subdirectory of
    ``cache`` named by a digest of that path (pure)."""
    return cache / hashlib.sha256(str(inventory).encode()).hexdigest()[:16]


def fact_cache_dir(base: Mapping[str, str] | None = None) -> Path:
    """The fact cache directory of tuned runs (for ansible_runner.run(fact_cache=...))."""
    return tuning_dir(os.environ if base is None else base) / "facts"


def runner_env(
    base: Mapping[str, str] | None = None, host_count: int | None = None
) -> dict[str, str]:
    """Tuned settings for an ansible process started from ``base`` (default: os.environ).

    Variables already present in ``base`` are left to it; with MAINT_ANSIBLE_TUNING=off the
    result is empty, with MAINT_ANSIBLE_TUNING=ssh it has no mitogen strategy.
    """
    base = os.environ if base is None else base
    chosen = mode(base)
    if chosen == "off":
        return {}
    strategy_dir = mitogen_strategy_dir() if chosen == "on" else None
    settings = tuned_settings(os.cpu_count() or 1, tuning_dir(base), host_count, strategy_dir)
    return {key: value for key, value in settings.items() if key not in base}
