"""The maint CLI over real SSH against a lab host with the fixture repository."""

import json
import os
import subprocess

import pytest

from . import labkit
from .labkit import BIN

PREFIX = f"maint-pytest-{os.getpid()}"  # two test runs on one machine never share hosts


def maint(*args, cwd, check=True):
    return labkit.maint(*args, cwd=cwd, check=check)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    state = work / "state"
    maint(
        "lab",
        "up",
        "-n",
        "1",
        "--base-port",
        str(labkit.free_base(1, 2450, 2999)),
        "--prefix",
        PREFIX,
        "--state",
        str(state),
        cwd=work,
    )
    yield work, state / "hosts.yml"
    maint("lab", "down", "--prefix", PREFIX, cwd=work, check=False)


def run_json(work, inventory, *extra):
    proc = maint("run", "patching", "-i", str(inventory), "--json", *extra, cwd=work, check=False)
    return proc.returncode, json.loads(proc.stdout)


def test_check_apply_idempotent_and_rollback_over_ssh(lab):
    work, inventory = lab
    rc, (check,) = run_json(work, inventory, "--check")
    assert rc == 0
    assert check["host"] == f"{PREFIX}-1"
    assert check["status"] == "changed"
    assert {p["name"]: p["candidate"] for p in check["data"]["planned"]} == {
        "maint-fixture": "1.1",
        "maint-fixture-tools": "1.1",
    }

    rc, (applied,) = run_json(work, inventory)
    assert rc == 0
    assert applied["status"] == "changed"
    assert applied["rollback"]["manifest"]["packages"][0]["before"] == "1.0"

    rc, (again,) = run_json(work, inventory)
    assert (rc, again["status"], again["data"]["planned"]) == (0, "ok", [])

    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    from maintenance_runner.ansible.collection import ansible_env

    env.update(ansible_env(env))
    rollback = subprocess.run(
        [str(BIN / "ansible-playbook"), "maint.preventive.rollback", "-i", str(inventory)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert rollback.returncode == 0, rollback.stdout[-3000:]
    version = subprocess.run(
        ["podman", "exec", f"{PREFIX}-1", "dpkg-query", "-W", "-f=${Version}", "maint-fixture"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version == "1.0"


def test_a_failed_post_check_fails_the_host_and_keeps_the_result(lab):
    work, inventory = lab
    rc, (result,) = run_json(
        work, inventory, "--check", "-e", 'patching_post_check_commands=["/bin/false"]'
    )
    assert rc == 1
    assert result["status"] == "failed"
    assert "patching.post_check_failed" in {f["id"] for f in result["findings"]}


def test_access_review_compares_before_and_after_a_real_run(lab):
    work, inventory = lab
    proc = maint(
        "run", "access_review", "patching", "-i", str(inventory), "--json", cwd=work, check=False
    )
    results = {r["task"]: r for r in json.loads(proc.stdout)}
    assert proc.returncode == 0, proc.stderr
    review = results["access_review"]
    assert review["data"]["phase"] == "after"
    assert review["status"] == "ok"
    # Nothing appeared during this run: no account, key or sudo rule was added. (Listeners are
    # left out: lab hosts share the machine's network namespace, so an sshd of any other lab
    # started meanwhile on this machine shows up here as a new listener.)
    appeared = [
        f
        for f in review["findings"]
        if f["id"] == "access_review.appeared_during_window" and "listening on" not in f["message"]
    ]
    assert not appeared
    assert "maint" in review["data"]["protected_users"]
