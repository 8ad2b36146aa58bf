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


def test_mitogen_is_an_explicit_choice():
    assert tuning.mode({}) == "on"
    assert tuning.mode({"MAINT_ANSIBLE_TUNING": "Mitogen"}) == "mitogen"
    assert tuning.mode({"MAINT_ANSIBLE_TUNING": "off"}) == "off"
    plain = tuning.tuned_settings(2, Path("/c"))
    assert "ANSIBLE_STRATEGY" not in plain
    with_mitogen = tuning.tuned_settings(2, Path("/c"), mitogen_dir=Path("/site/ansible_mitogen"))
    assert with_mitogen["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert with_mitogen["ANSIBLE_STRATEGY_PLUGINS"] == "/site/ansible_mitogen/plugins/strategy"


def test_mitogen_asked_for_but_missing_is_a_one_line_error(tmp_path, monkeypatch):
    import importlib.util

    if importlib.util.find_spec("ansible_mitogen") is not None:
        pytest.skip("mitogen is installed in this Python: the missing case cannot be shown")
    with pytest.raises(tuning.TuningError) as err:
        tuning.runner_env({"MAINT_ANSIBLE_TUNING": "mitogen"})
    assert err.value.exit_code == 2
    assert "pip install mitogen" in str(err.value)
    # Installed where Python finds it (here: a directory on sys.path), its strategy is used.
    package = tmp_path / "ansible_mitogen"
    (package / "plugins" / "strategy").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    env = tuning.runner_env({"MAINT_ANSIBLE_TUNING": "mitogen", "HOME": "/h"})
    assert env["ANSIBLE_STRATEGY_PLUGINS"] == str(package / "plugins" / "strategy")
    assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
