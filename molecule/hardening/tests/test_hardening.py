"""Verify the hardening scenario on the lab host (testinfra).

Runs twice: after converge + idempotence, and after side_effect (reconcile, lockout refusal,
rollback, then a plan and an apply while apt sees only the fixture repository, rolled back
too). Each run reads the maint_result files and the host snapshots (packages, dpkg selections,
files) the scenario saved in run order, and checks the host.

prepare drifts sshd the way real servers do: a file that sorts before the role's drop-in turns
root login on (the drop-in's "PermitRootLogin no" loses), the role's ciphers and MACs are set in
another order by a site file (compliant in effect), and a file read after the drop-in raises
MaxAuthTries (it wins until the drop-in sets it, then it is latent risk).

The first run also measures the host again with Lynis and compares the hardening index with the
one prepare recorded (both are kept in $MOLECULE_EPHEMERAL_DIRECTORY/lynis.json).
"""

import json
import re
import sys
from pathlib import Path

import pytest
from testinfra_helpers import (
    EPHEMERAL,
    file_changes,
    findings,
    load_snapshot,
    package_changes,
    phase,
    ran,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "plugins" / "module_utils"))
from changes import apply_unified_diff

LYNIS = EPHEMERAL / "lynis.json"
DROPIN = "/etc/ssh/sshd_config.d/00-maint-hardening.conf"
CLOUD = "/etc/ssh/sshd_config.d/00-cloud.conf"
LEGACY = "/etc/ssh/sshd_config.d/50-legacy.conf"
SSH = (
    "ssh -i /root/.ssh/maint_key -o BatchMode=yes -o StrictHostKeyChecking=no "
    "-o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 "
)
# Files under /etc that package maintainer scripts maintain besides the files a package ships
# (service links, alternatives, the linker cache): they come with a planned package install.
# What the maintainer scripts of planned packages write under /etc besides the files the packages
# ship: service links, alternatives, the linker cache, the system accounts they add (aide-common's
# _aide), the files ucf installs from a package's templates (aide-common) and the rules augenrules
# generates (auditd).
PACKAGE_SCRIPTS = (
    "/etc/rc",
    "/etc/systemd/system/",
    "/etc/alternatives/",
    "/etc/ld.so.cache",
    "/etc/passwd",
    "/etc/group",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/aide/",
    "/etc/cron.daily/aide",
    "/etc/default/aide",
    "/etc/audit/audit.rules",
)


def _reverse(diff):
    """A unified diff taken back: from the new text to the old one."""
    out = []
    for line in diff.splitlines(True):
        if line.startswith("@@"):
            old, new = line.split(" ")[1:3]
            line = f"@@ -{new[1:]} +{old[1:]} @@\n"
        elif line.startswith(("+++", "---")):
            pass
        elif line[:1] == "+":
            line = "-" + line[1:]
        elif line[:1] == "-":
            line = "+" + line[1:]
        out.append(line)
    return "".join(out)


def _host(host):
    return host.backend.get_hostname()


def _rolled_back(results):
    return ran(results, "rollback")


def _status(result):
    return {c["id"]: c["status"] for c in result["data"]["controls"]}


def _sshd(host, user="maint"):
    out = host.check_output(f"/usr/sbin/sshd -T -C user={user},host=127.0.0.1,addr=127.0.0.1")
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_check_mode_lists_noncompliant_controls(results):
    check = phase(results, "check")
    converge = phase(results, "converge")
    assert check["data"]["check_mode"] is True
    assert check["status"] == "changed"
    assert check["rollback"] == {}
    noncompliant = set(check["data"]["noncompliant"])
    assert {"SSH-01", "SSH-03", "PERM-03", "AUTH-01", "BAN-01"} <= noncompliant
    assert all(_status(check)[c] == "noncompliant" for c in noncompliant)
    # The real run found the same controls open: the check run changed nothing.
    assert set(converge["data"]["noncompliant"]) == noncompliant


def test_compliant_through_another_file_or_order_is_no_finding(results):
    check = phase(results, "check")
    status = _status(check)
    # password login off in the image's 10-lab.conf; the role's ciphers and MACs in another
    # order (and fewer) in 05-site.conf
    assert status["SSH-02"] == status["SSH-04"] == status["SSH-05"] == "compliant"
    ids = {f["id"] for f in check["findings"]}
    assert not ids & {"hardening.ssh_password_auth", "hardening.ssh_ciphers", "hardening.ssh_macs"}


def test_findings_name_the_effective_value_and_the_file_that_sets_it(results):
    check = phase(results, "check")
    (root,) = findings(check, "hardening.ssh_root_login")
    # the drop-in's "PermitRootLogin no" loses to a file that sorts before it
    assert root["message"].startswith(
        f"root login is allowed: PermitRootLogin yes from {CLOUD}:1, read before {DROPIN}:1"
    )
    assert root["evidence"] == {
        "effective": "permitrootlogin yes",
        "expected": "permitrootlogin no",
        "source": f"{CLOUD}:1",
    }
    (tries,) = findings(check, "hardening.ssh_max_auth_tries")
    assert f"MaxAuthTries 10 from {LEGACY}:1" in tries["message"]
    for finding in check["findings"]:
        if finding["id"] not in ("hardening.sysctl_not_writable",):
            assert set(finding["evidence"]) == {"effective", "expected", "source"}, finding


def test_check_mode_left_no_trace(host):
    prepared = load_snapshot(_host(host), "prepared")
    checked = load_snapshot(_host(host), "check")
    assert file_changes(prepared, checked) == {}
    assert package_changes(prepared, checked) == {}
    assert prepared["selections"] == checked["selections"]


def test_the_plan_shows_what_the_apply_changed(results, host):
    check, converge = phase(results, "check"), phase(results, "converge")

    def key(change):
        return (change["control"], change["kind"], change["target"], change["action"])

    planned = [c for c in check["data"]["changes"] if not c["would_fail"]]
    assert [key(c) for c in planned] == [key(c) for c in converge["data"]["changes"]]
    for plan, done in zip(planned, converge["data"]["changes"], strict=True):
        assert plan["diff"] == done["diff"], plan["target"]
        assert (plan["after"], plan["pulls"]) == (done["after"], done["pulls"]), plan["target"]

    before = load_snapshot(_host(host), "prepared")
    after = load_snapshot(_host(host), "converge")
    # every planned diff, applied in order to the file before, gives the file after
    texts = {}
    for change in planned:
        if change["kind"] == "file" and change["diff"]:
            path = change["target"]
            current = texts.get(path, before["texts"].get(path))
            if current is None and change["action"] == "modify":
                # a file a planned package creates (pwquality.conf): the plan diffs it as the
                # package ships it; that text is what the diff, taken back, gives from the file
                # after the apply
                current = apply_unified_diff(after["texts"][path], _reverse(change["diff"]))
            texts[path] = apply_unified_diff(current, change["diff"])
    assert texts
    for path, text in texts.items():
        assert after["texts"].get(path) == text, path
    # modes as planned
    for change in planned:
        if change["kind"] == "mode":
            assert after["files"][change["target"]].split()[1] == change["after"], change
    # nothing changed under /etc that the plan did not show: a planned file, mode or owner, or
    # what a planned package ships or its maintainer scripts maintain
    targets = {c["target"] for c in planned if c["kind"] in ("file", "mode", "owner")}
    # the directory a planned new file needs (/etc/modprobe.d on a minimal image)
    targets |= {
        str(Path(c["target"]).parent)
        for c in planned
        if c["kind"] == "file" and c["action"] == "create"
    }
    packages = {c["target"] for c in planned if c["kind"] == "package"}
    installed = set(package_changes(before, after))
    assert packages <= installed
    for pulled in (p.split()[0] for c in planned for p in c["pulls"]):
        assert pulled in installed, pulled
    unplanned = [
        path
        for path in file_changes(before, after, under=("/etc/",))
        if path not in targets
        and after["owners"].get(path, before["owners"].get(path)) not in installed
        and not path.startswith(PACKAGE_SCRIPTS)
    ]
    assert unplanned == []


def test_converge_fixed_everything_and_second_converge_changed_nothing(results):
    first = phase(results, "converge", 0)
    second = phase(results, "converge", 1)
    assert first["status"] == "changed"
    assert set(first["data"]["applied"]) == set(first["data"]["noncompliant"])
    assert first["data"]["score"]["percent"] > first["data"]["score_before"]["percent"]
    assert first["data"]["lockout"] == {**first["data"]["lockout"], "user": "maint", "safe": True}
    assert second["status"] == "ok"
    assert second["data"]["noncompliant"] == []
    assert second["data"]["changes"] == []
    assert second["rollback"] == {}
    assert first["data"]["sshd_drift"] == []
    # the legacy file lost to the drop-in: latent risk, low
    (latent,) = findings(second, "hardening.ssh_max_auth_tries_latent")
    assert latent["severity"] == "low"
    assert f"MaxAuthTries 10 at {LEGACY}:1 (overridden by {DROPIN}:" in latent["message"]


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
    # the winning line was fixed in place: its file is backed up like the drop-in
    for path in (DROPIN, CLOUD, "/etc/login.defs"):
        assert files[path].startswith("/var/lib/maint/hardening/backups/"), path
        assert host.file(files[path]).exists
    assert files["/etc/security/limits.d/00-maint-hardening.conf"] == "absent"
    manifest = json.loads(host.file(rollback["manifest_path"]).content_string)
    modes = {e["path"]: e["mode"] for e in manifest["files"] if e["kind"] == "mode"}
    assert modes["/etc/crontab"] == "0644"
    # every package the apply installed, dependencies included, is recorded for rollback
    # (and what it upgraded on the way, with the pre-change .deb)
    moved = package_changes(
        load_snapshot(_host(host), "prepared"), load_snapshot(_host(host), "converge")
    )
    new = {name for name, (was, _now) in moved.items() if was is None}
    assert new and new == set(rollback["packages_installed"])
    record = json.loads(host.file(manifest["extra"]["packages_manifest"]).content_string)
    upgraded = {p["name"] for p in record["packages"] if p["before"] is not None}
    assert upgraded == set(moved) - new
    assert all(p["deb"] for p in record["packages"] if p["before"] is not None)


def test_hardened_state_on_the_host(results, host):
    if _rolled_back(results):
        pytest.skip("hardening was rolled back by side_effect: see the rollback test")
    assert _sshd(host, "root")["permitrootlogin"] == "no"
    assert host.file(CLOUD).content_string.strip() == "PermitRootLogin no"
    effective = _sshd(host)
    assert effective["passwordauthentication"] == "no"
    assert effective["maxauthtries"] == "3"
    assert set(effective["ciphers"].split(",")) <= {
        "chacha20-poly1305@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com",
        "aes256-ctr",
        "aes192-ctr",
        "aes128-ctr",
    }
    assert "hmac-sha1" not in effective["macs"]
    assert host.file("/etc/crontab").mode == 0o600
    assert host.file("/etc/shadow").mode == 0o640
    assert host.file("/home/maint").mode == 0o750
    assert re.search(r"^UMASK\s+027$", host.file("/etc/login.defs").content_string, re.M)
    assert host.package("libpam-tmpdir").is_installed
    # the form both Lynis and CIS accept
    protocols = host.file("/etc/modprobe.d/maint-hardening-protocols.conf").content_string
    assert "install dccp /bin/true\nblacklist dccp\n" in protocols
    # issue 26's controls: auditd's rules, AIDE's database, accounting, fail2ban, compilers,
    # no recommends, post-quantum key exchange and no ECDSA host key
    rules = host.file("/etc/audit/rules.d/50-maint-hardening.rules").content_string
    assert "-k time-change" in rules and "-w /etc/sudoers -p wa -k scope" in rules
    assert host.package("auditd").is_installed
    assert host.file("/var/lib/aide/aide.db").exists
    assert host.file("/var/lib/aide/aide.db").mode == 0o600
    assert host.package("acct").is_installed and host.file("/var/log/account/pacct").exists
    assert re.search(r'^ENABLED="true"$', host.file("/etc/default/sysstat").content_string, re.M)
    jail = host.file("/etc/fail2ban/jail.local").content_string
    assert re.search(r"^ignoreip = 127\.0\.0\.1/8 ::1", jail, re.M) and "[sshd]" in jail
    assert (
        'APT::Install-Recommends "false";'
        in host.file("/etc/apt/apt.conf.d/60maint-no-recommends").content_string
    )
    assert host.file("/usr/bin/as").mode & 0o007 == 0
    assert set(effective["kexalgorithms"].split(",")) <= {
        "mlkem768x25519-sha256",
        "sntrup761x25519-sha512",
        "sntrup761x25519-sha512@openssh.com",
    }
    assert "ecdsa" not in effective["hostkeyalgorithms"]


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


ACCOUNT_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow")


def _added_lines(old, new):
    return sorted(set(new.splitlines()) - set(old.splitlines()))


def test_rollback_restored_every_package_and_file(results, host):
    if not _rolled_back(results):
        pytest.skip("rollback has not run yet: side_effect comes after the first verify")
    rollback = phase(results, "rollback")
    first = phase(results, "converge", 0)
    assert rollback["status"] == "changed"
    assert rollback["data"]["mismatched"] == []
    assert rollback["rollback"]["manifest_path"] == first["rollback"]["manifest_path"]
    before = load_snapshot(_host(host), "prepared")
    after = load_snapshot(_host(host), "rollback")
    # dpkg's selections and versions are what they were: every package the apply installed,
    # dependencies included, is purged; what it upgraded is back at its version
    assert package_changes(before, after) == {}
    assert before["selections"] == after["selections"]
    # every file the apply changed or created is restored or removed, but for the system
    # accounts packages' maintainer scripts added (aide-common's _aide): as Debian's policy
    # wants, a purge leaves them, so that no later account reuses the UID of what remains
    changed = file_changes(before, after, under=("/etc/",))
    accounts = {p for p in changed if p.rstrip("-") in ACCOUNT_FILES}
    assert set(changed) - accounts == set(), sorted(set(changed) - accounts)
    added = _added_lines(before["texts"]["/etc/passwd"], after["texts"]["/etc/passwd"])
    assert added, "the account files changed, but no account was added"
    for line in added:
        _name, _pw, uid, _gid, _gecos, _home, shell = line.split(":")
        assert int(uid) < 1000 and shell in ("/usr/sbin/nologin", "/bin/false"), line
    assert not _added_lines(after["texts"]["/etc/passwd"], before["texts"]["/etc/passwd"])
    for path, backup in first["rollback"]["files"].items():
        if backup == "absent":
            assert path not in after["files"], path
        else:
            assert after["files"][path] == before["files"][path], path


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
    assert DROPIN in changed and CLOUD in changed and "/etc/login.defs" in changed
    assert "package:libpam-tmpdir" in changed
    assert reconciled["data"]["files_changed"][DROPIN] == ["content"]
    # the record an apply publishes, so the runner's rollback path takes it unchanged
    assert reconciled["rollback"] == first["rollback"]


PACKAGE_CONTROLS = {
    "AUTH-03",
    "AUTH-04",
    "LOG-01",
    "AUD-01",
    "FIM-01",
    "ACCT-01",
    "BF-01",
    "PKG-01",
    "PKG-02",
}


def test_a_package_apt_cannot_install_is_a_would_fail_in_the_plan(results, host):
    if not ran(results, "fixturecheck"):
        pytest.skip("the fixture-only runs are in side_effect")
    check = phase(results, "fixturecheck")
    assert check["status"] == "changed"
    rows = {r["id"]: r for r in check["data"]["controls"]}
    failing = {c["control"] for c in check["data"]["changes"] if c["would_fail"]}
    assert failing == PACKAGE_CONTROLS
    for control in PACKAGE_CONTROLS:
        assert rows[control]["status"] == "noncompliant"
        assert rows[control]["would_fail"].startswith("apt cannot install"), rows[control]
    before = load_snapshot(_host(host), "fixturebefore")
    assert file_changes(before, load_snapshot(_host(host), "fixturecheck")) == {}


def test_an_apply_leaves_out_what_would_fail_and_tries_nothing_of_it(results, host):
    if not ran(results, "fixtureapply"):
        pytest.skip("the fixture-only runs are in side_effect")
    applied = phase(results, "fixtureapply")
    assert applied["status"] == "changed"
    rows = {r["id"]: r for r in applied["data"]["controls"]}
    for control in PACKAGE_CONTROLS:
        assert rows[control]["status"] == "skipped"
        assert rows[control]["reason"].startswith("not attempted: the change would fail")
    assert set(applied["data"]["skipped"]) == PACKAGE_CONTROLS
    assert not [c for c in applied["data"]["changes"] if c["kind"] == "package"]
    assert {"SSH-01", "PERM-03"} <= set(applied["data"]["applied"])
    before = load_snapshot(_host(host), "fixturebefore")
    after = load_snapshot(_host(host), "fixtureapply")
    assert package_changes(before, after) == {}
    assert phase(results, "fixturerollback")["data"]["mismatched"] == []
