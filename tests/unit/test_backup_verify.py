"""backup_verify helpers on real restic 0.14 / borg 1.2 output, and the module end to end on
real repositories when restic is installed on this machine."""

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import ROOT, load_plugin

bv = load_plugin("plugins/module_utils/backup_verify.py", "maint_backup_verify")
veeam = load_plugin("plugins/filter/backup_verify.py", "maint_backup_verify_filters")
SAMPLES = Path(__file__).parent / "samples" / "backup_verify"
NOW = datetime(2026, 11, 23, 22, 0, 0, tzinfo=UTC)


def sample(name):
    return (SAMPLES / name).read_text()


# --- snapshots and the recovery point ---------------------------------------------------------


def test_restic_snapshots_parse_oldest_first_with_nanoseconds():
    snaps = bv.parse_restic_snapshots(sample("restic-snapshots.json"))
    assert [s["short_id"] for s in snaps] == ["b56ed5d4", "71fae947"]
    assert snaps[0]["time"] == "2020-01-01T00:00:00Z"
    assert snaps[1]["time"] == "2026-11-23T21:31:49Z"
    assert snaps[1]["paths"] == ["/tmp/bvcap/src"]
    assert bv.newest(snaps)["short_id"] == "71fae947"


def test_empty_repository_has_no_newest():
    assert bv.parse_restic_snapshots(sample("restic-snapshots-empty.json")) == []
    assert bv.newest([]) is None


def test_age_uses_the_injected_now():
    snaps = bv.parse_restic_snapshots(sample("restic-snapshots.json"))
    newest = bv.newest(snaps)
    assert bv.age_hours(newest["time"], NOW) == pytest.approx(0.47, abs=0.01)
    assert bv.age_hours(newest["time"], NOW + timedelta(days=2)) == pytest.approx(48.47, abs=0.01)
    assert bv.age_hours(snaps[0]["time"], NOW) > 24 * 365 * 6


def test_parse_time_handles_offsets_and_naive_borg_times():
    assert bv.parse_time("2026-01-02T03:04:05.123456789+01:00").utcoffset() == timedelta(hours=1)
    naive = bv.parse_time("2026-11-23T21:32:33.000000")
    assert naive.tzinfo == UTC
    madrid = timezone(timedelta(hours=1))
    assert bv.parse_time("2026-11-23T21:32:33", naive_tz=madrid).hour == 21


def test_borg_archives_in_the_restic_shape():
    snaps = bv.parse_borg_archives(sample("borg-list.json"))
    assert [s["id"] for s in snaps] == ["old", "a1"]
    assert snaps[0]["time"] == "2020-01-01T00:00:00Z"
    assert bv.newest(snaps)["id"] == "a1"


# --- file lists, expected paths and the sample --------------------------------------------------


def test_restic_ls_skips_the_snapshot_header():
    nodes = bv.parse_restic_ls(sample("restic-ls.json"))
    assert all(n["path"].startswith("/") for n in nodes)
    files = {n["path"]: n for n in nodes if n["type"] == "file"}
    assert set(files) == {
        "/tmp/bvcap/src/etc/app.conf",
        "/tmp/bvcap/src/home/blob.bin",
        "/tmp/bvcap/src/home/canary.txt",
    }
    assert files["/tmp/bvcap/src/home/blob.bin"]["size"] == 200000


def test_borg_ls_gets_absolute_paths_and_types():
    nodes = bv.parse_borg_ls(sample("borg-ls.jsonl"))
    assert nodes[0] == {**nodes[0], "path": "/tmp/bvcap/src", "type": "dir"}
    assert {"path": "/tmp/bvcap/src/etc/app.conf", "type": "file"}.items() <= nodes[2].items()


def test_expected_paths_exact_prefix_and_pattern():
    paths = [n["path"] for n in bv.parse_restic_ls(sample("restic-ls.json"))]
    expected = [
        "/tmp/bvcap/src/etc",  # a directory
        "/tmp/bvcap/src/home/canary.txt",  # a file
        "/tmp/bvcap/src/home/*.bin",  # a pattern
        "tmp/bvcap/src/etc/",  # normalised
        "/tmp/bvcap/src/db",  # missing
        "/tmp/bvcap/src/e",  # a prefix of a name is not a path
        "/srv/*.sql",  # pattern matching nothing
    ]
    assert bv.missing_paths(expected, paths) == [
        "/tmp/bvcap/src/db",
        "/tmp/bvcap/src/e",
        "/srv/*.sql",
    ]


def test_sample_is_deterministic_and_respects_the_size_limit():
    nodes = bv.parse_restic_ls(sample("restic-ls.json"))
    first = bv.choose_sample(nodes, 2, 0)
    assert len(first) == 2
    assert first == bv.choose_sample(list(reversed(nodes)), 2, 0)
    small = bv.choose_sample(nodes, 5, 1000)
    assert "/tmp/bvcap/src/home/blob.bin" not in small
    assert len(small) == 2
    assert bv.choose_sample(nodes, 0, 0) == []


# --- checksums -----------------------------------------------------------------------------------


def test_compare_file_references():
    ok = bv.compare_file("/a", "AB12", {"kind": "checksum", "sha256": "ab12"})
    assert ok["match"] is True
    bad = bv.compare_file("/a", "ab12", {"kind": "source", "sha256": "ffff"})
    assert (bad["match"], bad["reason"]) == (False, "content differs from the source file")
    size = bv.compare_file("/a", "ab", {"kind": "size", "size": 3, "restored_size": 3})
    assert size["match"] is True
    assert bv.compare_file("/a", "ab", {"kind": "none"})["match"] is None
    lost = bv.compare_file("/a", None, {"kind": "checksum", "sha256": "ab"})
    assert (lost["match"], lost["reason"]) == (False, "not restored")


# --- repository check classification -------------------------------------------------------------


def test_clean_checks_are_ok():
    assert bv.classify_check("restic", 0, sample("restic-check-ok.txt"))["ok"] is True
    assert bv.classify_check("restic", 0, sample("restic-check-read-ok.txt"))["kind"] == "ok"


def test_damaged_data_pack_is_corruption():
    result = bv.classify_check("restic", 1, sample("restic-check-pack-corrupt.txt"))
    assert (result["ok"], result["kind"]) == (False, "corruption")
    assert "Pack ID does not match" in result["message"]
    assert "[0:00]" not in result["message"]


def test_damaged_tree_is_corruption():
    result = bv.classify_check("restic", 1, sample("restic-check-tree-corrupt.txt"))
    assert result["kind"] == "corruption"
    assert "ciphertext verification failed" in result["message"]


def test_other_failures():
    assert bv.classify_check("restic", 1, sample("restic-wrong-password.txt"))["kind"] == "error"
    locked = bv.classify_check(
        "restic",
        1,
        "Fatal: unable to create lock in backend: repository is already locked by PID 7",
    )
    assert locked["kind"] == "locked"
    assert bv.classify_check("borg", 1, "")["message"] == "exit code 1"


# --- secrets -------------------------------------------------------------------------------------


def test_redact_removes_secrets_and_url_credentials():
    text = "Fatal: rest:https://user:hunter2@backup.example:8000/repo pw=s3cret"
    out = bv.redact(text, ["s3cret", ""])
    assert "hunter2" not in out and "s3cret" not in out and "user:" not in out
    assert "backup.example:8000/repo" in out
    assert bv.redact("sftp:backup@host:/srv/repo", []) == "sftp:backup@host:/srv/repo"


# --- findings ------------------------------------------------------------------------------------


def _repo(**kw):
    base = {
        "name": "daily",
        "type": "restic",
        "repository": "/srv/backup/daily",
        "max_age_hours": 26,
        "snapshots": 1,
        "newest": {"id": "x", "short_id": "71fae947", "time": "2026-11-23T21:31:49Z"},
        "recovery_point_age_hours": 0.5,
        "expected_paths_missing": [],
        "check": {"ok": True, "kind": "ok", "message": "no errors were found"},
        "restore": {"files": [{"path": "/c", "match": True}], "mismatches": [], "missing": []},
        "error": None,
    }
    base.update(kw)
    return base


def _ids(findings):
    return {f["id"]: f["severity"] for f in findings}


def test_healthy_repository_has_no_finding():
    assert bv.repository_findings(_repo()) == []


def test_each_problem_has_its_finding_and_severity():
    assert _ids(bv.repository_findings(_repo(snapshots=0, newest=None))) == {
        "backup_verify.no_snapshot": "critical"
    }
    stale = bv.repository_findings(_repo(recovery_point_age_hours=30.0))
    assert _ids(stale) == {"backup_verify.stale_snapshot": "high"}
    assert "daily" in stale[0]["message"] and "71fae947" in stale[0]["message"]
    assert _ids(bv.repository_findings(_repo(expected_paths_missing=["/srv/db"]))) == {
        "backup_verify.expected_path_missing": "high"
    }
    corrupt = {"ok": False, "kind": "corruption", "message": "Pack ID does not match"}
    assert _ids(bv.repository_findings(_repo(check=corrupt))) == {
        "backup_verify.corruption": "critical"
    }
    failed = {"ok": False, "kind": "error", "message": "Fatal: boom"}
    assert _ids(bv.repository_findings(_repo(check=failed))) == {
        "backup_verify.check_failed": "critical"
    }
    locked = {"ok": False, "kind": "locked", "message": "locked"}
    assert _ids(bv.repository_findings(_repo(check=locked))) == {
        "backup_verify.check_locked": "medium"
    }
    mismatch = {
        "files": [{"path": "/c", "match": False, "reason": "content differs from the source file"}],
        "mismatches": ["/c"],
    }
    assert _ids(bv.repository_findings(_repo(restore=mismatch))) == {
        "backup_verify.restore_mismatch": "critical"
    }
    failed_restore = {
        "files": [{"path": "/c", "match": False, "reason": "not restored"}],
        "error": "x",
    }
    assert _ids(bv.repository_findings(_repo(restore=failed_restore))) == {
        "backup_verify.restore_failed": "critical"
    }
    assert _ids(bv.repository_findings(_repo(restore={"missing": ["/c"]}))) == {
        "backup_verify.canary_missing": "high"
    }
    assert _ids(bv.repository_findings(_repo(error="Fatal: wrong password or no key found"))) == {
        "backup_verify.repository_unreachable": "critical"
    }
    assert _ids(bv.repository_findings(_repo(password_file_mode="0644"))) == {
        "backup_verify.password_file_permissive": "medium"
    }


def test_missing_tool_is_info_only_when_an_install_is_pending():
    assert _ids(bv.repository_findings(_repo(tool_missing=True, install_pending=True))) == {
        "backup_verify.tool_missing": "info"
    }
    assert _ids(bv.repository_findings(_repo(tool_missing=True))) == {
        "backup_verify.tool_missing": "critical"
    }


def test_veeam_findings():
    f = veeam.FilterModule().filters()["backup_verify_veeam_findings"]
    jobs = [
        {"name": "ok", "result": "Success", "age_hours": 3},
        {"name": "old", "result": "Success", "age_hours": 80},
        {"name": "bad", "result": "Failed", "age_hours": 3},
        {"name": "warn", "result": "Warning", "age_hours": 3},
        {"name": "never", "result": "None", "age_hours": None},
    ]
    got = [(x["id"], x["severity"]) for x in f(jobs, 26, "win1")]
    assert got == [
        ("backup_verify.stale_snapshot", "high"),
        ("backup_verify.job_failed", "critical"),
        ("backup_verify.job_warning", "medium"),
        ("backup_verify.no_snapshot", "critical"),
    ]
    assert f([], 26, "win1")[0]["id"] == "backup_verify.no_snapshot"


# --- the module on real repositories (restic is a Debian package) --------------------------------

PASSWORD = "unit-secret-5b81c0"
needs_restic = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed")


def _restic(repo, *args, env):
    subprocess.run(["restic", "--repo", str(repo), *args], check=True, env=env, capture_output=True)


def _run_module(tmp_path, args):
    """Run plugins/modules/backup_verify.py as Ansible would (args file), return its JSON."""
    collections = tmp_path / "collections" / "ansible_collections" / "maint"
    collections.mkdir(parents=True)
    (collections / "preventive").symlink_to(ROOT)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "collections")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "plugins/modules/backup_verify.py"), str(args_file)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return proc, json.loads(proc.stdout)


@needs_restic
def test_module_on_real_repositories_never_leaks_the_password(tmp_path):
    src = tmp_path / "src"
    (src / "etc").mkdir(parents=True)
    (src / "etc" / "app.conf").write_text("listen = 8080\n")
    (src / "canary.txt").write_text("canary v1\n")
    (src / "blob.bin").write_bytes(os.urandom(100_000))  # the data pack is the biggest file
    good, old, corrupt = tmp_path / "good", tmp_path / "old", tmp_path / "corrupt"
    env = {**os.environ, "RESTIC_PASSWORD": PASSWORD}
    for repo in (good, old, corrupt):
        _restic(repo, "init", env=env)
    _restic(good, "backup", str(src), env=env)
    _restic(corrupt, "backup", str(src), env=env)
    _restic(old, "backup", "--time", "2020-01-01 00:00:00", str(src), env=env)
    pack = max(
        (p for p in (corrupt / "data").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size
    )
    pack.chmod(0o600)
    with pack.open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\0" * 32)
    (src / "canary.txt").write_text("canary v2\n")  # changed after every backup
    password_file = tmp_path / "pass"
    password_file.write_text(PASSWORD)
    password_file.chmod(0o644)
    repos = [
        {"name": "good", "repository": str(good), "password_file": str(password_file)},
        {"name": "old", "repository": str(old), "password": PASSWORD, "sample_files": 1},
        {
            "name": "corrupt",
            "repository": str(corrupt),
            "password": PASSWORD,
            "read_data_subset": "100%",
            "canary_files": [str(src / "canary.txt")],
        },
        {
            "name": "canary",
            "repository": str(good),
            "password": PASSWORD,
            "canary_files": [str(src / "canary.txt"), str(src / "absent.txt")],
            "checksums": {str(src / "etc" / "app.conf"): "0" * 64},
        },
    ]
    proc, out = _run_module(tmp_path, {"repositories": repos, "tmp_dir": str(tmp_path)})
    assert PASSWORD not in proc.stdout + proc.stderr
    assert out.get("failed") is not True, out
    by_name = {r["name"]: r for r in out["repositories"]}
    assert by_name["good"]["check"]["ok"] is True
    assert by_name["good"]["restore"]["seconds"] > 0
    assert len(by_name["good"]["restore"]["files"]) == 3  # the default sample
    assert by_name["good"]["restore"]["mismatches"] == []  # canary.txt changed: size reference
    assert by_name["corrupt"]["check"]["kind"] == "corruption"
    ids = {(f["id"], f["message"].split("repository ")[1].split(" ")[0]) for f in out["findings"]}
    assert ("backup_verify.password_file_permissive", "good") in ids
    assert ("backup_verify.stale_snapshot", "old") in ids
    assert ("backup_verify.corruption", "corrupt") in ids
    assert ("backup_verify.restore_mismatch", "canary") in ids
    assert ("backup_verify.canary_missing", "canary") in ids
    assert not list(tmp_path.glob("maint-backup-verify-*"))  # restore directories removed


@needs_restic
def test_module_reports_an_unreachable_repository(tmp_path):
    proc, out = _run_module(
        tmp_path,
        {
            "repositories": [
                {"name": "gone", "repository": str(tmp_path / "nope"), "password": PASSWORD}
            ]
        },
    )
    assert PASSWORD not in proc.stdout
    (finding,) = out["findings"]
    assert finding["id"] == "backup_verify.repository_unreachable"
    assert "unable to open config file" in finding["message"]


def test_module_without_repositories_reports_not_configured(tmp_path):
    _proc, out = _run_module(tmp_path, {"repositories": []})
    assert out["repositories"] == []
    assert [(f["id"], f["severity"]) for f in out["findings"]] == [
        ("backup_verify.not_configured", "info")
    ]
