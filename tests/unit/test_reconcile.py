"""Reconcile: what a killed run wrote before changing anything, compared with the host now.

The pure rules (run ids, the result shape, package, file, account and freshclam.conf changes)
and the read-only modules run as Ansible runs them, on files in a temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, collection_path, load_plugin

record = load_plugin("plugins/module_utils/run_record.py", "maint_run_record")
manifest = load_plugin("plugins/module_utils/patch_manifest.py", "maint_patch_manifest_rc")
rpm = load_plugin("plugins/module_utils/rpm_query.py", "maint_rpm_query")
hu = load_plugin("plugins/module_utils/hardening.py", "maint_hardening_utils_rc")
au = load_plugin("plugins/module_utils/access_review.py", "maint_access_review_rc")
filters = load_plugin("plugins/filter/reconcile.py", "maint_reconcile_filters").FilterModule()
av_filters = load_plugin("plugins/filter/antivirus.py", "maint_antivirus_filters_rc").FilterModule()

RUN = "run-1234-20261206T101500123456"


# --- run ids and the result shape ------------------------------------------------------------


@pytest.mark.parametrize("good", [RUN, "20261206T101500Z", "a", "run_1.x-2"])
def test_a_run_id_names_a_file(good):
    assert record.check_id(good) == good
    assert record.manifest_path("/var/lib/maint/patching", good) == (
        f"/var/lib/maint/patching/manifest-{good}.json"
    )


@pytest.mark.parametrize("bad", ["", None, "../etc", "a/b", "-rf", ".hidden", "a..b", "a b", "é"])
def test_a_run_id_that_is_a_path_or_empty_is_refused(bad):
    with pytest.raises(ValueError):
        record.check_id(bad)


def test_oldest_first_sorts_by_time_not_by_name():
    # run-<pid>-<time>: a later run with a smaller pid sorts first by name
    times = {"manifest-run-99999-20260101.json": 1, "manifest-run-100-20260201.json": 2}
    assert record.oldest_first(times, times.get) == list(times)


def test_result_when_the_run_wrote_nothing_here():
    result = record.reconcile_result("patching", RUN, False, ["ignored"], {"manifest_path": "x"})
    assert result == {
        "task": "patching",
        "status": "ok",
        "findings": [],
        "data": {"action": "reconcile", "run": RUN, "found": False, "check_mode": False},
        "rollback": {},
    }


def test_result_when_the_run_was_killed_before_changing_anything():
    result = record.reconcile_result("hardening", RUN, True, [], {"manifest_path": "/m.json"})
    assert result["status"] == "ok"
    assert result["data"] == {
        "action": "reconcile",
        "run": RUN,
        "found": True,
        "check_mode": False,
        "changed": [],
    }
    assert result["rollback"] == {}


def test_result_when_the_run_changed_the_host_carries_the_apply_rollback_record():
    rollback = {"manifest_path": "/var/lib/maint/patching/manifest-x.json", "manifest": {"id": 1}}
    result = filters.filters()["reconcile_result"](
        "patching", RUN, True, ["b", "a", "b"], rollback, check_mode=True, record="/m.json"
    )
    assert result["task"] == "patching"
    assert result["status"] == "changed"
    assert result["data"]["changed"] == ["a", "b"]
    assert result["data"]["record"] == "/m.json"
    assert result["data"]["check_mode"] is True
    assert result["rollback"] == rollback and result["rollback"] is not rollback


# --- patching --------------------------------------------------------------------------------

TRANSACTION = [
    {"name": "maint-fixture", "current": "1.0", "candidate": "1.1", "action": "upgrade"},
    {"name": "maint-fixture-tools", "current": "1.0", "candidate": "1.1", "action": "upgrade"},
    {"name": "newdep", "current": None, "candidate": "2.0", "action": "install"},
]


def test_run_changes_of_an_apt_manifest():
    m = manifest.build_manifest(RUN, "2026-12-06T10:15:00Z", TRANSACTION)
    # killed half way: one package moved, one not yet, a dependency installed
    installed = {"maint-fixture": "1.1", "maint-fixture-tools": "1.0", "newdep": "2.0"}
    assert manifest.run_changes(m, installed) == {
        "maint-fixture": {"before": "1.0", "after": "1.1", "now": "1.1"},
        "newdep": {"before": None, "after": "2.0", "now": "2.0"},
    }
    untouched = {"maint-fixture": "1.0", "maint-fixture-tools": "1.0", "newdep": None}
    assert manifest.run_changes(m, untouched) == {}


def test_run_changes_of_a_dnf_manifest():
    m = {"packages": [{"name": "openssl", "current": "3.0.7-24.el9", "candidate": "3.0.7-27.el9"}]}
    assert manifest.run_changes(m, {"openssl": "3.0.7-24.el9"}) == {}
    assert manifest.run_changes(m, {"openssl": "3.0.7-27.el9"}) == {
        "openssl": {"before": "3.0.7-24.el9", "after": "3.0.7-27.el9", "now": "3.0.7-27.el9"}
    }


def test_rpm_query_output():
    out = "openssl\t3.0.7-27.el9\nkernel\t5.14.0-1\nkernel\t5.14.0-2\n"
    out += "package gone is not installed\n"
    assert rpm.parse_rpm_query(out, ["openssl", "kernel", "gone"]) == {
        "openssl": "3.0.7-27.el9",
        "kernel": "5.14.0-1 5.14.0-2",
        "gone": None,
    }


def test_windows_kbs_installed_now():
    m = {"updates": {"a": {"kb": ["5034441"], "title": "x"}, "b": {"kb": ["KB5030000"]}}}
    changes = filters.filters()["patching_windows_reconcile_changes"]
    assert changes(m, ["KB5034441", "KB1"]) == ["KB5034441"]
    assert changes(m, []) == []


# --- hardening -------------------------------------------------------------------------------

ENTRY = {
    "path": "/etc/login.defs",
    "kind": "content",
    "existed": True,
    "mode": "0644",
    "uid": 0,
    "gid": 0,
    "sha256": "abc",
}
LIVE = {"mode": "0644", "uid": 0, "gid": 0, "sha256": "abc"}


@pytest.mark.parametrize(
    ("entry", "live", "expected"),
    [
        (ENTRY, LIVE, []),
        (ENTRY, {**LIVE, "sha256": "def"}, ["content"]),
        (ENTRY, {**LIVE, "mode": "0600", "gid": 42}, ["mode", "owner"]),
        (ENTRY, None, ["removed"]),
        ({"path": "/etc/x", "kind": "content", "existed": False}, None, []),
        ({"path": "/etc/x", "kind": "content", "existed": False}, LIVE, ["created"]),
        ({**ENTRY, "kind": "mode", "sha256": None}, {**LIVE, "sha256": "zzz"}, []),
        ({**ENTRY, "kind": "mode", "sha256": None}, {**LIVE, "mode": "0640"}, ["mode"]),
    ],
)
def test_file_differences(entry, live, expected):
    assert hu.file_differences(entry, live) == expected


def test_hardening_changes_from_files_sysctl_and_packages():
    compared = {
        "found": True,
        "differ": {"/etc/login.defs": ["content"]},
        "manifest": {"extra": {"installed": ["libpam-tmpdir", "debsums"], "removed": ["telnetd"]}},
    }
    changes = filters.filters()["hardening_reconcile_changes"]
    packages = {"libpam-tmpdir": [{"version": "0.09"}], "telnetd": [{"version": "1"}]}
    assert changes(compared, {"noncompliant": ["kernel.sysrq"]}, packages) == [
        "/etc/login.defs",
        "package:libpam-tmpdir",
        "sysctl:kernel.sysrq",
    ]
    assert changes(compared, {}, {}) == ["/etc/login.defs", "package:telnetd"]
    assert changes({"found": False, "differ": {"/x": ["content"]}}, {}, {}) == []


# --- access_review ---------------------------------------------------------------------------

SHADOW = "root:*:19000:0:99999:7:::\nalice:!:19000:0:99999:7::0:\nbob:$y$j9T$x:19000:0:99999:7:::\n"


def test_remediation_changes():
    m = {"expired": ["alice", "bob"], "key_files": {"/home/carol/.ssh/authorized_keys": "/b"}}
    changed = au.remediation_changes(
        m, {"/home/carol/.ssh/authorized_keys": False, "/home/dan/.ssh/x": True}, SHADOW, 20000
    )
    assert changed == ["/home/carol/.ssh/authorized_keys", "account:alice"]
    # a backup that is gone cannot show the file unchanged
    assert au.remediation_changes({}, {"/k": None}, "", 20000) == ["/k"]
    assert au.remediation_changes({"expired": ["bob"]}, {"/k": True}, SHADOW, 20000) == []


# --- antivirus -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pending"),
    [
        ("DatabaseMirror db.local.clamav.net\n", True),
        ("#PrivateMirror mirror.example\n", True),
        ("PrivateMirror http://m.example\n", False),
        ("PrivateMirror http://m.example\nPrivateMirror http://other\n", True),
        ("PrivateMirror http://other\n# PrivateMirror http://m.example\n", True),
    ],
)
def test_mirror_pending_follows_lineinfile(text, pending):
    assert av_filters.filters()["antivirus_mirror_pending"](text, "http://m.example") is pending
    assert av_filters.filters()["antivirus_mirror_pending"](text, "") is False


# --- the modules, run as Ansible runs them ----------------------------------------------------


def run_module(tmp_path, name, args):
    args_file = tmp_path / f"{name}-args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = {**os.environ, "PYTHONPATH": str(collection_path())}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "plugins" / "modules" / f"{name}.py"), str(args_file)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return json.loads(proc.stdout)


def test_hardening_backup_compared_finds_what_the_run_changed(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "login.defs").write_text("UMASK 022\n")
    (etc / "modes").write_text("x\n")
    os.chmod(etc / "modes", 0o644)
    state = tmp_path / "state"
    files = [
        {"path": str(etc / "login.defs")},
        {"path": str(etc / "modes"), "kind": "mode"},
        {"path": str(etc / "new.conf")},
    ]
    backup = run_module(
        tmp_path, "hardening_backup", {"files": files, "state_dir": str(state), "manifest_id": RUN}
    )
    assert backup["path"] == str(state / f"manifest-{RUN}.json")
    args = {"state": "compared", "state_dir": str(state), "manifest_id": RUN}
    before = run_module(tmp_path, "hardening_backup", args)
    assert before["found"] is True and before["differ"] == {} and before["changed"] is False
    assert before["files"] == backup["files"]

    (etc / "login.defs").write_text("UMASK 027\n")
    os.chmod(etc / "modes", 0o600)
    (etc / "new.conf").write_text("created by the run\n")
    after = run_module(tmp_path, "hardening_backup", args)
    assert after["differ"] == {
        str(etc / "login.defs"): ["content"],
        str(etc / "modes"): ["mode"],
        str(etc / "new.conf"): ["created"],
    }

    other = run_module(tmp_path, "hardening_backup", {**args, "manifest_id": "run-1-other"})
    assert other["found"] is False and other["path"] == "" and other["differ"] == {}
    refused = run_module(tmp_path, "hardening_backup", {**args, "manifest_id": "../x"})
    assert refused["failed"] is True


def test_hardening_prunes_and_rolls_back_by_age_not_by_name(tmp_path):
    state = tmp_path / "state"
    target = tmp_path / "f"
    target.write_text("1\n")
    for i, run in enumerate(["run-99999-a", "run-100-b"]):
        run_module(
            tmp_path,
            "hardening_backup",
            {"files": [{"path": str(target)}], "state_dir": str(state), "manifest_id": run},
        )
        os.utime(state / f"manifest-{run}.json", (1000 + i, 1000 + i))
    restore = run_module(
        tmp_path, "hardening_backup", {"state": "restored", "state_dir": str(state)}
    )
    assert restore["path"] == str(state / "manifest-run-100-b.json")  # the newest, by time
    run_module(
        tmp_path,
        "hardening_backup",
        {
            "files": [{"path": str(target)}],
            "state_dir": str(state),
            "manifest_id": "run-5-c",
            "keep": 1,
        },
    )
    # by name run-99999-a is the newest; by time the run just written is
    assert [p.name for p in state.glob("manifest-*.json")] == ["manifest-run-5-c.json"]


def test_patch_reconcile_against_dpkg(tmp_path):
    if not shutil.which("dpkg-query"):
        pytest.skip("dpkg-query is not installed here")
    bash = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "bash"], capture_output=True, text=True, check=False
    ).stdout
    transaction = [
        {"name": "bash", "current": bash, "candidate": "99:9"},
        {"name": "maint-never-installed", "current": None, "candidate": "1.0"},
        {"name": "dpkg", "current": "0.0.1", "candidate": "99:9"},
    ]
    (tmp_path / f"manifest-{RUN}.json").write_text(
        json.dumps(manifest.build_manifest(RUN, "2026-12-06T10:15:00Z", transaction))
    )
    result = run_module(
        tmp_path, "patch_reconcile", {"manifest_id": RUN, "state_dir": str(tmp_path)}
    )
    assert result["found"] is True and result["changed"] is False
    assert result["path"] == str(tmp_path / f"manifest-{RUN}.json")
    assert result["changed_packages"] == ["dpkg"]
    assert result["versions"]["dpkg"]["before"] == "0.0.1"
    assert result["manifest"]["id"] == RUN

    missing = run_module(
        tmp_path, "patch_reconcile", {"manifest_id": "run-1-x", "state_dir": str(tmp_path)}
    )
    assert (missing["found"], missing["changed_packages"], missing["manifest"]) == (False, [], {})


def test_access_review_reconcile_compares_the_key_backups(tmp_path):
    live, kept = tmp_path / "authorized_keys", tmp_path / "backup"
    live.write_text("ssh-ed25519 AAAA approved\nssh-ed25519 BBBB unapproved\n")
    shutil.copy(live, kept)
    m = {"id": RUN, "expired": [], "key_files": {str(live): str(kept)}, "rolled_back_at": None}
    (tmp_path / f"manifest-{RUN}.json").write_text(json.dumps(m))
    args = {"manifest_id": RUN, "state_dir": str(tmp_path)}
    assert run_module(tmp_path, "access_review_reconcile", args)["differ"] == []
    live.write_text("ssh-ed25519 AAAA approved\n")
    result = run_module(tmp_path, "access_review_reconcile", args)
    assert (result["found"], result["differ"]) == (True, [str(live)])
    nothing = run_module(tmp_path, "access_review_reconcile", {**args, "manifest_id": "run-2"})
    assert (nothing["found"], nothing["differ"], nothing["path"]) == (False, [], "")
