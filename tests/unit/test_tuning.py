"""The runner's tuned Ansible settings (pure) and how ansible_env applies them."""

from pathlib import Path

import pytest

from maintenance_runner.ansible import tuning


@pytest.mark.parametrize(
    ("cpus", "hosts", "forks"),
    [
        (1, None, 8),
        (2, None, 16),
        (4, None, 32),
        (64, None, tuning.MAX_FORKS),
        (2, 3, 3),  # never more workers than hosts
        (2, 200, 16),
        (0, None, 8),  # os.cpu_count() may say nothing
    ],
)
def test_forks_are_sized_for_the_machine(cpus, hosts, forks):
    assert tuning.forks_for(cpus, hosts) == forks


def test_tuned_settings():
    env = tuning.tuned_settings(2, Path("/c"))
    assert env["ANSIBLE_PIPELINING"] == "True"
    assert "ControlMaster=auto" in env["ANSIBLE_SSH_ARGS"]
    assert f"ControlPersist={tuning.CONTROL_PERSIST_SECONDS}s" in env["ANSIBLE_SSH_ARGS"]
    assert "-C" not in env["ANSIBLE_SSH_ARGS"].split()
    assert env["ANSIBLE_SSH_CONTROL_PATH_DIR"] == "/c/cp"
    assert env["ANSIBLE_SSH_CONTROL_PATH"] == "%(directory)s/%%C"
    assert env["ANSIBLE_FORKS"] == "16"
    assert env["ANSIBLE_GATHERING"] == "smart"
    assert env["ANSIBLE_CACHE_PLUGIN"] == "jsonfile"
    assert env["ANSIBLE_CACHE_PLUGIN_CONNECTION"] == "/c/facts"
    assert all(isinstance(v, str) for v in env.values())


def test_runner_env_leaves_what_the_caller_set_and_can_be_switched_off():
    base = {"HOME": "/home/op", "ANSIBLE_FORKS": "3"}
    env = tuning.runner_env(base)
    assert "ANSIBLE_FORKS" not in env
    assert env["ANSIBLE_PIPELINING"] == "True"
    assert env["ANSIBLE_SSH_CONTROL_PATH_DIR"] == "/home/op/.cache/maint/ansible/cp"
    xdg = tuning.runner_env({"XDG_CACHE_HOME": "/x"})
    assert xdg["ANSIBLE_CACHE_PLUGIN_CONNECTION"] == "/x/maint/ansible/facts"
    for off in ("off", "0", "false", "NO"):
        assert tuning.runner_env({"MAINT_ANSIBLE_TUNING": off}) == {}
    assert tuning.runner_env({"MAINT_ANSIBLE_TUNING": "on", "HOME": "/h"})
    assert tuning.fact_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/maint/ansible/facts")


def test_ansible_env_applies_the_tuning_and_keeps_the_collection_path():
    from maintenance_runner.ansible.collection import ansible_env

    env = ansible_env({"HOME": "/h", "ANSIBLE_COLLECTIONS_PATH": "/extra"})
    assert env["ANSIBLE_COLLECTIONS_PATH"].endswith("/extra")
    assert env["ANSIBLE_PIPELINING"] == "True"
    off = ansible_env({"MAINT_ANSIBLE_TUNING": "off"})
    assert set(off) == {"ANSIBLE_COLLECTIONS_PATH"}


def test_mitogen_is_the_default_and_ssh_leaves_it_out():
    assert tuning.mode({}) == "on"
    assert tuning.mode({"MAINT_ANSIBLE_TUNING": "mitogen"}) == "on"
    assert tuning.mode({"MAINT_ANSIBLE_TUNING": " SSH "}) == "ssh"
    assert tuning.mode({"MAINT_ANSIBLE_TUNING": "off"}) == "off"
    plain = tuning.tuned_settings(2, Path("/c"))
    assert "ANSIBLE_STRATEGY" not in plain
    with_mitogen = tuning.tuned_settings(2, Path("/c"), strategy_dir=Path("/p/strategy"))
    assert with_mitogen["ANSIBLE_STRATEGY"] == "maint_mitogen_linear"
    assert with_mitogen["ANSIBLE_STRATEGY_PLUGINS"] == "/p/strategy"
    env = tuning.runner_env({"HOME": "/h"})
    assert env["ANSIBLE_STRATEGY"] == "maint_mitogen_linear"
    assert (Path(env["ANSIBLE_STRATEGY_PLUGINS"]) / "maint_mitogen_linear.py").is_file()
    ssh = tuning.runner_env({"HOME": "/h", "MAINT_ANSIBLE_TUNING": "ssh"})
    assert "ANSIBLE_STRATEGY" not in ssh
    assert "ANSIBLE_STRATEGY_PLUGINS" not in ssh
    assert ssh["ANSIBLE_PIPELINING"] == "True"
    # A strategy the caller chose wins.
    assert "ANSIBLE_STRATEGY" not in tuning.runner_env({"HOME": "/h", "ANSIBLE_STRATEGY": "free"})


def test_mitogen_missing_is_a_one_line_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ansible_mitogen" else real(name, *a),
    )
    with pytest.raises(tuning.TuningError) as err:
        tuning.runner_env({"HOME": "/h"})
    assert err.value.exit_code == 2
    assert "pip install mitogen" in str(err.value)
    assert "MAINT_ANSIBLE_TUNING=ssh" in str(err.value)
    assert tuning.runner_env({"HOME": "/h", "MAINT_ANSIBLE_TUNING": "ssh"})


def test_the_strategy_plugin_unpins_mitogen():
    """Loading the plugin replaces mitogen's CPU placement with the no-op base policy."""
    import ansible_mitogen.affinity

    module = _strategy_module()
    assert type(ansible_mitogen.affinity.policy) is ansible_mitogen.affinity.Policy
    assert issubclass(module.StrategyModule, ansible_mitogen.strategy.StrategyMixin)


def test_each_inventory_has_its_own_fact_cache():
    one = tuning.inventory_fact_cache(Path("/c/facts"), Path("/site-a/hosts.yml"))
    assert one.parent == Path("/c/facts")
    assert one == tuning.inventory_fact_cache(Path("/c/facts"), Path("/site-a/hosts.yml"))
    assert one != tuning.inventory_fact_cache(Path("/c/facts"), Path("/site-b/hosts.yml"))


def _strategy_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "maint_strategy_probe", tuning.STRATEGY_DIR / "maint_mitogen_linear.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PLANNER_PROBE = """
import importlib.util, json, sys, types
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader()
import ansible_mitogen.planner
mitogens = types.SimpleNamespace(_extra_sys_paths=set())
ansible_mitogen.planner._load_collections(mitogens)
spec = importlib.util.spec_from_file_location("probe", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
first = types.SimpleNamespace(_extra_sys_paths=set())
ansible_mitogen.planner._load_collections(first)
listed = module.COLLECTION_DIRS.dirs
second = types.SimpleNamespace(_extra_sys_paths=set())
ansible_mitogen.planner._load_collections(second)
print(json.dumps({
    "mitogen": sorted(mitogens._extra_sys_paths),
    "first": sorted(first._extra_sys_paths),
    "second": sorted(second._extra_sys_paths),
    "listed_once": module.COLLECTION_DIRS.dirs is listed,
}))
"""


def test_the_strategy_lists_the_collections_once_for_mitogen_planner():
    """mitogen's planner gets the same collection directories, from a list made only once.

    In a process of its own: the collection loader is process-wide state."""
    import json
    import subprocess
    import sys

    plugin = tuning.STRATEGY_DIR / "maint_mitogen_linear.py"
    out = subprocess.run(
        [sys.executable, "-c", PLANNER_PROBE, str(plugin)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    assert any(path.endswith("ansible_collections/ansible/posix") for path in seen["mitogen"])
    assert seen["first"] == seen["mitogen"]
    assert seen["second"] == seen["mitogen"]
    assert seen["listed_once"]


def test_waiting_for_a_worker_sleeps_until_one_exits():
    import multiprocessing
    import time

    module = _strategy_module()
    ctx = multiprocessing.get_context("fork")
    short = ctx.Process(target=time.sleep, args=(0.3,))
    long = ctx.Process(target=time.sleep, args=(30,))
    short.start()
    long.start()
    try:
        started = time.monotonic()
        module.wait_for_free_worker([short, long], lambda: False, timeout=5.0)
        waited = time.monotonic() - started
        assert not short.is_alive() and long.is_alive()
        assert 0.2 < waited < 5.0  # woken by the short worker's exit, not by the timeout
        # A free slot (None, or an ended worker) returns at once, as does a stopped run.
        started = time.monotonic()
        module.wait_for_free_worker([None, long], lambda: False, timeout=5.0)
        module.wait_for_free_worker([short, long], lambda: False, timeout=5.0)
        module.wait_for_free_worker([long], lambda: True, timeout=5.0)
        assert time.monotonic() - started < 1.0
    finally:
        long.terminate()
        long.join()
        short.join()
