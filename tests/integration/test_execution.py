"""run_playbook against this machine (connection local): results, recap and artifacts."""

from __future__ import annotations

import sys

import yaml

from maintenance_runner.execution import final_stats, run_playbook

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
