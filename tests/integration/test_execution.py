"""run_playbook against this machine (connection local): results, recap and artifacts."""

from __future__ import annotations

import sys

import yaml

from maintenance_runner.ansible import tuning
from maintenance_runner.ansible.execution import final_stats, run_playbook

CHECKS = {"maint_post_checks": [{"name": "true", "command": "true"}]}


def _inventory(tmp_path):
    inventory = tmp_path / "hosts.yml"
    host = {
        "ansible_connection": "local",
        "ansible_become": False,
        "ansible_python_interpreter": sys.executable,
    }
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"here": host}}}))
    return inventory


def test_the_recap_comes_from_memory_and_artifacts_only_when_asked_for(tmp_path):
    inventory = _inventory(tmp_path)
    kept = tmp_path / "kept"
    kept.mkdir()
    with_artifacts = run_playbook("postcheck", inventory, extravars=CHECKS, private_data_dir=kept)
    without = run_playbook("postcheck", inventory, extravars=CHECKS)
    for outcome in (with_artifacts, without):
        assert outcome.rc == 0, outcome.status
        assert [(r.host, r.task, r.status) for r in outcome.results] == [
            ("here", "post_check", "ok")
        ]
        assert outcome.stats["ok"] == {"here": 2}
        assert outcome.stats["failures"] == {}
    events = list(kept.glob("artifacts/*/job_events/*.json"))
    assert len(events) == len(with_artifacts.events)


def test_final_stats_takes_the_last_recap():
    events = [
        {"event": "runner_on_ok", "event_data": {"host": "a"}},
        {"event": "playbook_on_stats", "event_data": {"ok": {"a": 1}}},
        {"event": "playbook_on_stats", "event_data": {"ok": {"a": 3}, "changed": {"a": 1}}},
    ]
    stats = final_stats(events)
    assert stats["ok"] == {"a": 3}
    assert stats["changed"] == {"a": 1}
    assert stats["dark"] == {}
    assert final_stats(events[:1]) == {}


def _gathered(outcome) -> list[dict]:
    """The facts each "Gathering Facts" task returned in this run (none when the cache served)."""
    return [
        (event["event_data"].get("res") or {}).get("ansible_facts") or {}
        for event in outcome.events
        if event.get("event") == "runner_on_ok"
        and event["event_data"].get("task") == "Gathering Facts"
    ]


def test_runs_share_their_inventorys_fact_cache_and_the_audit_gathers_afresh(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("ANSIBLE_CACHE_PLUGIN", raising=False)
    monkeypatch.delenv("ANSIBLE_CACHE_PLUGIN_CONNECTION", raising=False)
    monkeypatch.setenv(tuning.SWITCH, "ssh")  # the fact cache is one of the tuned settings
    inventory = _inventory(tmp_path)
    nothing = {"maint_tasks": []}  # rollback of no task: gathering facts is all it does

    first = run_playbook("rollback", inventory, extravars=nothing)
    assert first.rc == 0, first.status
    gathered = _gathered(first)
    assert len(gathered) == 1
    assert gathered[0]["ansible_os_family"]  # the min subset: what the roles read ...
    assert "ansible_memtotal_mb" not in gathered[0]  # ... and not the hardware facts
    cache = tuning.inventory_fact_cache(tuning.fact_cache_dir(), inventory.resolve())
    (cached,) = cache.glob("*here")  # one file per host (ansible-core names it s1_here)
    assert cache.stat().st_mode & 0o077 == 0

    second = run_playbook("rollback", inventory, extravars=nothing)
    assert second.rc == 0, second.status
    assert _gathered(second) == []  # served by the cache

    other = tmp_path / "other"
    other.mkdir()
    elsewhere = run_playbook("rollback", _inventory(other), extravars=nothing)
    assert len(_gathered(elsewhere)) == 1  # another inventory's "here" is another host

    audit = run_playbook(
        "rollback",
        inventory,
        extravars={**nothing, "maint_gather_subset": "all"},
        fresh_facts=True,
    )
    assert audit.rc == 0, audit.status
    (facts,) = _gathered(audit)
    assert facts["ansible_memtotal_mb"] > 0
    assert "memtotal_mb" not in cached.read_text()  # it gathered into its own cache
