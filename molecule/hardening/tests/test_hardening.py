"""Verify the hardening scenario on the lab host (testinfra).

Runs twice: after converge + idempotence, and after side_effect (lockout refusal + rollback).
Each run reads the maint_result files the scenario saved in run order and checks the host.
The first run also measures the host again with Lynis and compares the hardening index with the
one prepare recorded (both are kept in $MOLECULE_EPHEMERAL_DIRECTORY/lynis.json).
"""

import json
import re

import pytest
from testinfra_helpers import EPHEMERAL, phase, ran

LYNIS = EPHEMERAL / "lynis.json"
DROPIN = "/etc/ssh/sshd_config.d/00-maint-hardening.conf"
SSH = (
    "ssh -i /root/.ssh/maint_key -o BatchMode=yes -o StrictHostKeyChecking=no "
    "-o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 "
)


def _rolled_back(results):
    return ran(results, "rollback")


def _status(result):
    return {c["id"]: c["status"] for c in result["data"]["controls"]}


def test_check_mode_lists_noncompliant_controls_and_changes_nothing(results):
    check = phase(results, "check")
    converge = phase(results, "converge")
    assert check["data"]["check_mode"] is True
    assert check["status"] == "changed"
    assert check["rollback"] == {}
    noncompliant = set(check["data"]["noncompliant"])
    assert {"SSH-01", "SSH-03", "SSH-04", "PERM-03", "AUTH-01", "BAN-01"} <= noncompliant
    assert all(_status(check)[c] == "noncompliant" for c in noncompliant)
    ids = {f["id"] for f in check["findings"]}
    assert {
        "hardening.ssh_root_login",
        "hardening.ssh_max_auth_tries",
        "hardening.perm_cron",
    } <= ids
    # The real run found the same controls open: the check run changed nothing.
    assert set(converge["data"]["noncompliant"]) == noncompliant


def test_converge_fixed_everything_and_second_converge_changed_nothing(results):
    first = phase(results, "converge", 0)
    second = phase(results, "converge", 1)
    assert first["status"] == "changed"
    assert set(first["data"]["applied"]) == set(first["data"]["noncompliant"])
    assert first["data"]["score"]["percent"] > first["data"]["score_before"]["percent"]
    assert first["data"]["lockout"] == {**first["data"]["lockout"], "user": "maint", "safe": True}
    assert second["status"] == "ok"
    assert second["data"]["noncompliant"] == []
    assert second["rollback"] == {}
    assert first["data"]["sshd_drift"] == []


def test_sysctl_not_writable_is_reported_not_failed(results):
    first = phase(results, "converge", 0)
    by_id = {f["id"]: f for f in first["findings"]}
    finding = by_id["hardening.sysctl_not_writable"]
    assert finding["severity"] == "low"
    assert "kernel.kptr_restrict" in finding["message"]
    assert "kernel.kptr_restrict" in first["data"]["sysctl_not_writable"]
    assert _status(first)["KERN-01"] == "not_writable"


def test_result_carries_the_backups(results, host):
    first = phase(results, "converge", 0)
    rollback = first["rollback"]
    assert host.file(rollback["manifest_path"]).exists
    files = rollback["files"]
    assert files[DROPIN] == "absent"
    backup = files["/etc/login.defs"]
    assert backup.startswith("/var/lib/maint/hardening/backups/")
    assert host.file(backup).exists
    manifest = json.loads(host.file(rollback["manifest_path"]).content_string)
    modes = {e["path"]: e["mode"] for e in manifest["files"] if e["kind"] == "mode"}
    assert modes["/etc/crontab"] == "0644"


def test_hardened_state_on_the_host(results, host):
    if _rolled_back(results):
        pytest.skip("hardening was rolled back by side_effect: see the rollback test")
    sshd = host.check_output("/usr/sbin/sshd -T -C user=maint,host=localhost,addr=127.0.0.1")
    effective = dict(line.split(" ", 1) for line in sshd.splitlines() if " " in line)
    assert effective["permitrootlogin"] == "no"
    assert effective["passwordauthentication"] == "no"
    assert effective["maxauthtries"] == "3"
    assert effective["ciphers"].startswith("chacha20-poly1305@openssh.com")
    assert "hmac-sha1" not in effective["macs"]
    assert host.file(DROPIN).mode == 0o600
    assert host.file("/etc/crontab").mode == 0o600
    assert host.file("/etc/shadow").mode == 0o640
    assert host.file("/home/maint").mode == 0o750
    assert re.search(r"^UMASK\s+027$", host.file("/etc/login.defs").content_string, re.M)
    assert host.package("libpam-tmpdir").is_installed
    assert (
        "install dccp /bin/false"
        in host.file("/etc/modprobe.d/maint-hardening-protocols.conf").content_string
    )


def test_maintenance_key_login_and_sudo_still_work(host):
    # Through the running sshd, reloaded by the role's handler with the hardened configuration.
    login = host.run(SSH + "maint@127.0.0.1 sudo -n id -u")
    assert login.rc == 0, login.stderr
    assert login.stdout.strip() == "0"


def test_password_login_is_not_offered(results, host):
    if _rolled_back(results):
        pytest.skip("hardening was rolled back by side_effect")
    attempt = host.run(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o PreferredAuthentications=password,keyboard-interactive maint@127.0.0.1 true"
    )
    assert attempt.rc != 0
    assert "Permission denied (publickey)" in attempt.stderr


def _lynis_index(host):
    host.run("lynis audit system --quick --no-colors >/dev/null 2>&1")
    report = host.file("/var/log/lynis-report.dat").content_string
    return int(re.search(r"^hardening_index=(\d+)$", report, re.M).group(1))


def test_lynis_index_rose(results, host):
    assert LYNIS.exists(), f"{LYNIS} is missing: prepare did not run Lynis"
    measured = json.loads(LYNIS.read_text())
    if "after" not in measured:
        if _rolled_back(results):
            pytest.skip("Lynis after converge was not measured before the rollback")
        measured["after"] = _lynis_index(host)
        LYNIS.write_text(json.dumps(measured, indent=2))
    print(f"Lynis hardening index: before {measured['before']}, after {measured['after']}")
    assert measured["after"] > measured["before"], measured


def test_lockout_refusal(results, host):
    if not _rolled_back(results):
        pytest.skip("the refusal runs in side_effect, after the first verify")
    refused = phase(results, "refused")
    assert refused["status"] == "failed"
    (finding,) = [f for f in refused["findings"] if f["id"] == "hardening.lockout_risk"]
    assert finding["severity"] == "critical"
    assert "root" in finding["message"]
    assert refused["data"]["lockout"]["safe"] is False
    assert refused["data"]["noncompliant"] == ["SSH-03"]
    assert refused["rollback"] == {}


def test_rollback_restored_every_file(results, host):
    if not _rolled_back(results):
        pytest.skip("rollback has not run yet: side_effect comes after the first verify")
    rollback = phase(results, "rollback")
    first = phase(results, "converge", 0)
    assert rollback["status"] == "changed"
    assert rollback["data"]["mismatched"] == []
    assert rollback["rollback"]["manifest_path"] == first["rollback"]["manifest_path"]
    assert not host.file(DROPIN).exists
    assert host.file("/etc/crontab").mode == 0o644
    assert host.file("/home/maint").mode == 0o755
    for path, backup in first["rollback"]["files"].items():
        if backup == "absent":
            assert not host.file(path).exists, path
        else:
            assert host.file(path).sha256sum == host.file(backup).sha256sum, path
    assert not host.package("libpam-tmpdir").is_installed
    sshd = host.check_output("/usr/sbin/sshd -T")
    assert "maxauthtries 6" in sshd.splitlines()


def test_reconcile_records_what_the_converge_run_changed(results):
    if not ran(results, "reconcile"):
        pytest.skip("reconcile has not run yet: side_effect comes after the first verify")
    reconciled = phase(results, "reconcile")
    first = phase(results, "converge", 0)
    assert reconciled["task"] == "hardening"
    assert reconciled["status"] == "changed"
    assert reconciled["data"]["run"] == "run-4343-20261206T101500123456"
    assert reconciled["data"]["found"] is True
    changed = reconciled["data"]["changed"]
    assert DROPIN in changed and "/etc/login.defs" in changed
    assert "package:libpam-tmpdir" in changed
    assert reconciled["data"]["files_changed"][DROPIN] == ["created"]
    # the record an apply publishes, so the runner's rollback path takes it unchanged
    assert reconciled["rollback"] == first["rollback"]
