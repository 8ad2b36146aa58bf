"""The runner's tuned Ansible settings (pure) and how ansible_env applies them."""

from pathlib import Path

import pytest

from maintenance_runner import tuning


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
    from maintenance_runner.collection import ansible_env

    env = ansible_env({"HOME": "/h", "ANSIBLE_COLLECTIONS_PATH": "/extra"})
    assert env["ANSIBLE_COLLECTIONS_PATH"].endswith("/extra")
    assert env["ANSIBLE_PIPELINING"] == "True"
    off = ansible_env({"MAINT_ANSIBLE_TUNING": "off"})
    assert set(off) == {"ANSIBLE_COLLECTIONS_PATH"}
