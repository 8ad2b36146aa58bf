"""Hardening helpers: sshd -T parsing, the lockout guard (including the refusal path), backup
plans, and the filters that build the control table, score and findings."""

import pytest

from tests.conftest import load_plugin

hu = load_plugin("plugins/module_utils/hardening.py", "maint_hardening_utils")
hf = load_plugin("plugins/filter/hardening.py", "maint_hardening_filter")

SSHD_T = """port 22
permitrootlogin without-password
pubkeyauthentication yes
passwordauthentication no
authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2
maxauthtries 6
ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com
"""

SUDO_OK = """Matching Defaults entries for maint on lab:
    env_reset, mail_badpass

User maint may run the following commands on lab:
    (ALL : ALL) NOPASSWD: ALL
"""


def test_parse_sshd_t():
    config = hu.parse_sshd_t(SSHD_T)
    assert config["maxauthtries"] == "6"
    assert config["authorizedkeysfile"] == ".ssh/authorized_keys .ssh/authorized_keys2"


def test_authorized_keys_paths_expand_tokens():
    effective = {"authorizedkeysfile": ".ssh/authorized_keys /etc/ssh/keys/%u %h/.ssh/extra none"}
    paths = hu.authorized_keys_paths(effective, "maint", "/home/maint")
    assert paths == [
        "/home/maint/.ssh/authorized_keys",
        "/etc/ssh/keys/maint",
        "/home/maint/.ssh/extra",
    ]


def test_count_keys_ignores_comments_and_blanks():
    assert hu.count_keys("# comment\n\nssh-ed25519 AAAA maint\n") == 1
    assert hu.count_keys("") == 0


def test_sudo_allows():
    assert hu.sudo_allows(SUDO_OK, "maint")
    assert not hu.sudo_allows("User bob is not allowed to run sudo on lab.\n", "bob")
    assert not hu.sudo_allows("", "maint")


def _problems(**kw):
    args = dict(
        user="maint",
        exists=True,
        keys={"/home/maint/.ssh/authorized_keys": 1},
        sudo=True,
        effective=hu.parse_sshd_t(SSHD_T),
        planned={"PermitRootLogin": "no", "PasswordAuthentication": "no"},
    )
    args.update(kw)
    return hu.lockout_problems(**args)


def test_guard_passes_for_a_sudo_account_with_a_key():
    assert _problems() == []


def test_guard_refuses_without_a_key():
    (problem,) = _problems(keys={"/home/maint/.ssh/authorized_keys": 0})
    assert "has no authorized key" in problem


def test_guard_refuses_without_sudo():
    (problem,) = _problems(sudo=False)
    assert "no sudo rights" in problem


def test_guard_refuses_disabling_pubkey_auth():
    problems = _problems(planned={"PubkeyAuthentication": "no"})
    assert any("PubkeyAuthentication" in p for p in problems)


def test_guard_refuses_root_lockout_unless_allowed():
    keys = {"/root/.ssh/authorized_keys": 1}
    problems = _problems(user="root", keys=keys)
    assert len(problems) == 1 and "PermitRootLogin no" in problems[0]
    assert _problems(user="root", keys=keys, allow_root_lockout=True) == []
    # Setting it to no is also refused when the live config already says no.
    effective = dict(hu.parse_sshd_t(SSHD_T), permitrootlogin="no")
    assert _problems(user="root", keys=keys, effective=effective, planned={"MaxAuthTries": "4"})


def test_guard_refuses_algorithms_the_control_node_cannot_use():
    client = {
        "kexalgorithms": ["curve25519-sha256", "sntrup761x25519-sha512@openssh.com"],
        "hostkeyalgorithms": ["ssh-ed25519", "rsa-sha2-512"],
    }
    planned = {
        "KexAlgorithms": "sntrup761x25519-sha512@openssh.com",
        "HostKeyAlgorithms": "ssh-ed25519",
    }
    assert _problems(planned=planned, client_algorithms=client) == []
    # an old control node (no post-quantum key exchange) would be locked out
    old = dict(client, kexalgorithms=["curve25519-sha256"])
    (problem,) = _problems(planned=planned, client_algorithms=old)
    assert "supports none of the kexalgorithms" in problem
    # unknown client support (the probe did not run) is not a refusal
    assert _problems(planned=planned, client_algorithms={"kexalgorithms": []}) == []


def test_guard_refuses_missing_account_and_allowusers():
    assert "does not exist" in _problems(exists=False)[0]
    effective = dict(hu.parse_sshd_t(SSHD_T), allowusers="alice bob")
    assert any("AllowUsers" in p for p in _problems(effective=effective))
    assert hu.lockout_problems("", True, {}, True, {}, {})[0].startswith("the connecting account")


def test_sysctl_helpers():
    assert hu.sysctl_path("net.ipv4.conf.all.rp_filter") == "/proc/sys/net/ipv4/conf/all/rp_filter"
    assert hu.sysctl_equal("0\t1", "0 1")
    assert not hu.sysctl_equal("1", 0)


def test_restore_plan_and_manifest_files():
    manifest = {
        "files": [
            {
                "path": "/etc/login.defs",
                "kind": "content",
                "existed": True,
                "backup": "/b/etc/login.defs",
            },
            {
                "path": "/etc/ssh/sshd_config.d/00-maint-hardening.conf",
                "kind": "content",
                "existed": False,
            },
            {"path": "/etc/crontab", "kind": "mode", "existed": True, "mode": "0644"},
            {"path": "/etc/cron.d", "kind": "mode", "existed": False},
        ]
    }
    plan = [(action, e["path"]) for action, e in hu.restore_plan(manifest)]
    assert plan == [
        ("restore", "/etc/login.defs"),
        ("remove", "/etc/ssh/sshd_config.d/00-maint-hardening.conf"),
        ("mode", "/etc/crontab"),
    ]
    assert hu.manifest_files(manifest) == {
        "/etc/login.defs": "/b/etc/login.defs",
        "/etc/ssh/sshd_config.d/00-maint-hardening.conf": "absent",
    }
    assert (
        hu.backup_name("/var/lib/maint/hardening/backups/1", "/etc/x")
        == "/var/lib/maint/hardening/backups/1/etc/x"
    )


CONTROLS = [
    {
        "id": "SSH-01",
        "key": "ssh_root_login",
        "flag": "f1",
        "severity": "high",
        "title": "root",
        "recommendation": "r1",
    },
    {
        "id": "SSH-03",
        "key": "ssh_max_auth_tries",
        "flag": "f3",
        "severity": "medium",
        "title": "tries",
        "recommendation": "r3",
    },
    {
        "id": "KERN-01",
        "key": "sysctl_kernel",
        "flag": "fk",
        "severity": "medium",
        "title": "kernel",
        "recommendation": "rk",
    },
    {
        "id": "PERM-03",
        "key": "perm_cron",
        "flag": "fp",
        "severity": "medium",
        "title": "cron",
        "recommendation": "rp",
        "kind": "mode",
        "files": ["/etc/crontab", "/etc/cron.d"],
    },
]


LOGIN_DEFS = """# comment
# UMASK is the default umask value for pam_umask
#SHA_CRYPT_MIN_ROUNDS 5000
PASS_MAX_DAYS\t99999
UMASK\t\t022
"""


def test_set_lines_replaces_active_then_commented_then_appends():
    lines = [
        {"key": "PASS_MAX_DAYS", "value": 365},
        {"key": "SHA_CRYPT_MIN_ROUNDS", "value": 5000},
        {"key": "UMASK", "value": "027"},
        {"key": "HOME_MODE", "value": "0750"},
    ]
    new, changed = hu.set_lines(LOGIN_DEFS, lines, sep="\t", commented=True)
    assert new.splitlines() == [
        "# comment",
        "# UMASK is the default umask value for pam_umask",
        "SHA_CRYPT_MIN_ROUNDS\t5000",
        "PASS_MAX_DAYS\t365",
        "UMASK\t027",
        "HOME_MODE\t0750",
    ]
    assert changed == ["PASS_MAX_DAYS", "SHA_CRYPT_MIN_ROUNDS", "UMASK", "HOME_MODE"]
    again, changed_again = hu.set_lines(new, lines, sep="\t", commented=True)
    assert (again, changed_again) == (new, [])


def test_set_lines_sysctl_style_and_empty_file():
    new, changed = hu.set_lines("", [{"key": "kernel.kptr_restrict", "value": 2}], sep=" = ")
    assert new == "kernel.kptr_restrict = 2\n"
    assert changed == ["kernel.kptr_restrict"]
    new, changed = hu.set_lines(
        "kernel.kptr_restrict=1\n", [{"key": "kernel.kptr_restrict", "value": 2}], sep=" = "
    )
    assert new == "kernel.kptr_restrict = 2\n"


def _assessed(noncompliant, **extra):
    items = [
        {
            "key": "PermitRootLogin",
            "phrase": "PermitRootLogin yes from /etc/ssh/sshd_config.d/50-cloud.conf:1",
            "effective": "permitrootlogin yes",
            "expected": "permitrootlogin no",
            "source": "/etc/ssh/sshd_config.d/50-cloud.conf:1",
            "compliant": not noncompliant,
        }
    ]
    found = {"noncompliant": noncompliant, "items": items, "changes": [], "latent": []}
    found["would_fail"] = None
    found.update(extra)
    return found


def test_control_table_score_and_findings_in_check_mode():
    audit = {
        "SSH-01": _assessed(True),
        "SSH-03": _assessed(False),
        "KERN-01": _assessed(False),
    }
    table = hf.hardening_controls(
        CONTROLS,
        ["SSH-01", "SSH-03", "KERN-01"],
        audit,
        {},
        check_mode=True,
        not_writable={"KERN-01": ["kernel.kptr_restrict"]},
    )
    status = {r["id"]: r["status"] for r in table}
    assert status == {
        "SSH-01": "noncompliant",
        "SSH-03": "compliant",
        "KERN-01": "not_writable",
        "PERM-03": "disabled",
    }
    assert table[0]["evidence"] == [
        {
            "effective": "permitrootlogin yes",
            "expected": "permitrootlogin no",
            "source": "/etc/ssh/sshd_config.d/50-cloud.conf:1",
        }
    ]
    assert hf.hardening_score(table) == {"compliant": 1, "enabled": 3, "percent": 33.3}
    findings = hf.hardening_findings(
        CONTROLS, table, assessment=audit, not_writable_keys=["kernel.kptr_restrict"]
    )
    assert [f["id"] for f in findings] == [
        "hardening.ssh_root_login",
        "hardening.sysctl_not_writable",
    ]
    # the message states the problem with the effective value and where it comes from
    assert findings[0]["severity"] == "high"
    assert findings[0]["message"] == (
        "root: PermitRootLogin yes from /etc/ssh/sshd_config.d/50-cloud.conf:1"
    )
    assert findings[0]["evidence"] == {
        "effective": "permitrootlogin yes",
        "expected": "permitrootlogin no",
        "source": "/etc/ssh/sshd_config.d/50-cloud.conf:1",
    }


def test_findings_use_the_problem_and_name_a_fix_that_would_fail():
    controls = [dict(CONTROLS[0], problem="root login is allowed")]
    audit = {"SSH-01": _assessed(True, would_fail="sshd -t fails")}
    table = hf.hardening_controls(controls, ["SSH-01"], audit, {}, check_mode=True)
    (finding,) = hf.hardening_findings(controls, table, assessment=audit)
    assert finding["message"] == (
        "root login is allowed: PermitRootLogin yes from "
        "/etc/ssh/sshd_config.d/50-cloud.conf:1 (the fix cannot be applied here: sshd -t fails)"
    )
    assert table[0]["would_fail"] == "sshd -t fails"


def test_control_table_after_apply():
    audit = {"SSH-01": _assessed(True), "SSH-03": _assessed(False)}
    applied = {"SSH-01": {"changed": True, "failed": False, "changes": [{"control": "SSH-01"}]}}
    table = hf.hardening_controls(CONTROLS[:2], ["SSH-01", "SSH-03"], audit, applied)
    assert [r["status"] for r in table] == ["fixed", "compliant"]
    assert hf.hardening_score(table)["percent"] == 100.0
    assert hf.hardening_score(table, before=True)["percent"] == 50.0
    assert hf.hardening_findings(CONTROLS, table, assessment=audit) == []


def test_skipped_and_would_fail_controls_are_not_applied():
    audit = {
        "SSH-01": _assessed(True),
        "SSH-03": _assessed(True, would_fail="apt cannot install it"),
        "KERN-01": _assessed(True),
    }
    enabled = ["SSH-01", "SSH-03", "KERN-01"]
    assert hf.hardening_plan(audit, enabled, ["KERN-01"]) == ["SSH-01", "SSH-03"]
    assert hf.hardening_todo(audit, enabled, ["KERN-01"]) == ["SSH-01"]
    table = hf.hardening_controls(CONTROLS, enabled, audit, {}, skip=["KERN-01"])
    rows = {r["id"]: r for r in table}
    assert rows["KERN-01"]["status"] == "skipped"
    assert "maint_skip_controls" in rows["KERN-01"]["reason"]
    assert rows["SSH-03"]["status"] == "skipped"
    assert rows["SSH-03"]["reason"].startswith("not attempted: the change would fail")
    # in check mode a would-fail control is shown as not compliant, with the reason
    table = hf.hardening_controls(CONTROLS, enabled, audit, {}, check_mode=True)
    assert {r["id"]: r["status"] for r in table}["SSH-03"] == "noncompliant"
    # skipped controls are still findings: the host is not compliant
    findings = hf.hardening_findings(
        CONTROLS,
        hf.hardening_controls(CONTROLS, enabled, audit, {}, skip=["KERN-01"]),
        assessment=audit,
    )
    assert "hardening.sysctl_kernel" in {f["id"] for f in findings}


def test_skip_list_per_host():
    assert hf.hardening_skip({"web1": ["SSH-01"], "web2": ["KERN-01"]}, "web1") == ["SSH-01"]
    assert hf.hardening_skip({}, "web1") == []
    assert hf.hardening_skip(None, "web1") == []
    assert hf.hardening_skip(["PERM-03"], "any") == ["PERM-03"]


def test_latent_settings_are_a_low_finding():
    latent = [
        {
            "key": "MaxAuthTries",
            "effective": "MaxAuthTries 10",
            "expected": "maxauthtries 3 or less (not 0)",
            "source": "/etc/ssh/sshd_config.d/50-legacy.conf:1",
            "why": "overridden by /etc/ssh/sshd_config.d/00-maint-hardening.conf:2",
        }
    ]
    audit = {"SSH-03": _assessed(False, latent=latent)}
    table = hf.hardening_controls(CONTROLS[1:2], ["SSH-03"], audit, {}, check_mode=True)
    (finding,) = hf.hardening_findings(CONTROLS, table, assessment=audit)
    assert finding["id"] == "hardening.ssh_max_auth_tries_latent"
    assert finding["severity"] == "low"
    assert "50-legacy.conf:1" in finding["message"] and "overridden by" in finding["message"]
    assert finding["evidence"]["source"] == "/etc/ssh/sshd_config.d/50-legacy.conf:1"


def test_lockout_and_drift_findings():
    findings = hf.hardening_findings(
        CONTROLS,
        [],
        lockout_problems=["account root has no authorized key"],
        lockout_user="root",
        ssh_drift=[{"control": "SSH-03", "key": "MaxAuthTries", "wanted": "3", "effective": "6"}],
    )
    assert [(f["id"], f["severity"]) for f in findings] == [
        ("hardening.lockout_risk", "critical"),
        ("hardening.sshd_not_effective", "high"),
    ]
    assert "root" in findings[0]["message"]


def test_backup_files_and_homes_and_drift():
    files = hf.hardening_backup_files(CONTROLS, ["PERM-03", "SSH-01"])
    assert files == [
        {"path": "/etc/crontab", "kind": "mode"},
        {"path": "/etc/cron.d", "kind": "mode"},
    ]
    # the files the audit found a control changes (the sshd file whose line wins) too
    found = {"SSH-01": ["/etc/ssh/sshd_config.d/00-cloud.conf"]}
    assert hf.hardening_backup_files(CONTROLS, ["SSH-01"], found) == [
        {"path": "/etc/ssh/sshd_config.d/00-cloud.conf", "kind": "content"}
    ]
    passwd = {
        "root": ["x", "0", "0", "root", "/root", "/bin/bash"],
        "maint": ["x", "1000", "1000", "", "/home/maint", "/bin/bash"],
        "nobody": ["x", "65534", "65534", "", "/nonexistent", "/usr/sbin/nologin"],
    }
    assert hf.hardening_user_homes(passwd, 1000) == ["/home/maint"]
    drift = hf.hardening_ssh_drift(
        [
            {"control": "SSH-03", "lines": [{"key": "MaxAuthTries", "value": 3, "compare": "max"}]},
            {"control": "SSH-01", "lines": [{"key": "PermitRootLogin", "value": "no"}]},
            {
                "control": "SSH-04",
                "lines": [{"key": "Ciphers", "value": "a,b,c", "compare": "subset"}],
            },
        ],
        {"maxauthtries": "2", "permitrootlogin": "without-password", "ciphers": "c,a"},
    )
    # stricter (2 tries) and the same ciphers in another order are compliant
    assert [d["control"] for d in drift] == ["SSH-01"]


def test_modprobe_conf():
    # the form both Lynis (NETW-3200 accepts only /bin/true) and CIS accept
    text = hf.hardening_modprobe_conf(["dccp", "sctp"], "MOD-02")
    assert "install dccp /bin/true\nblacklist dccp\n" in text
    assert "/bin/false" not in text
    assert text.startswith("# Managed by maint (hardening MOD-02)")


def _stat(item, exists=True, islnk=False, path=None, lnk=None):
    st = {"exists": exists}
    if exists:
        st.update(islnk=islnk, path=path or "/usr/bin/" + item)
        if islnk:
            st["lnk_source"] = lnk
    return {"item": item, "stat": st}


def test_compiler_items_resolve_links_once():
    results = [
        _stat("as", islnk=True, lnk="/usr/bin/x86_64-linux-gnu-as"),
        _stat("ld", islnk=True, lnk="/usr/bin/x86_64-linux-gnu-ld.bfd"),
        _stat("cc", islnk=True, lnk="/usr/bin/x86_64-linux-gnu-gcc-12"),
        _stat("gcc", islnk=True, lnk="/usr/bin/x86_64-linux-gnu-gcc-12"),
        _stat("clang", exists=False),
        {"item": "g++", "skipped": True},
    ]
    items = hf.hardening_compiler_items(results, "0750")
    assert [i["path"] for i in items] == [
        "/usr/bin/x86_64-linux-gnu-as",
        "/usr/bin/x86_64-linux-gnu-ld.bfd",
        "/usr/bin/x86_64-linux-gnu-gcc-12",
    ]
    assert {(i["control"], i["mode"], i["owner"], i["compare"]) for i in items} == {
        ("CC-01", "0750", "root", "mode")
    }


def test_compilers_incoming_are_the_names_a_planned_package_brings():
    names = ["as", "ld", "cc", "gcc"]
    packages = {"binutils": ["as", "ld"], "gcc": ["cc", "gcc"]}
    stats = [_stat("as", exists=False), _stat("ld", exists=False), _stat("cc"), _stat("gcc")]
    # needrestart pulls binutils: as and ld arrive with this run; cc is already there
    incoming = hf.hardening_compilers_incoming(
        ["needrestart", "binutils", "binutils-x86-64-linux-gnu"], packages, stats, names
    )
    assert incoming == {"/usr/bin/as": "binutils", "/usr/bin/ld": "binutils"}
    assert hf.hardening_compilers_incoming(["rsyslog"], packages, stats, names) == {}
    assert hf.hardening_compilers_incoming(["binutils"], packages, [], ["as"]) == {
        "/usr/bin/as": "binutils"
    }


def _q(item, lines, rc=0):
    return {"item": item, "rc": rc, "stdout_lines": lines}


def test_ssh_algorithms_and_usable_names():
    probe = {
        "results": [
            _q("kex", ["curve25519-sha256", "sntrup761x25519-sha512@openssh.com"]),
            _q("key-sig", ["ssh-ed25519"], rc=127),
        ]
    }
    found = hf.hardening_ssh_algorithms(probe)
    assert found == {"kexalgorithms": ["curve25519-sha256", "sntrup761x25519-sha512@openssh.com"]}
    assert hf.hardening_ssh_algorithms({"skipped": True}) == {}
    wanted = ["mlkem768x25519-sha256", "sntrup761x25519-sha512@openssh.com"]
    # OpenSSH 9.2 on the host knows no ML-KEM: only the name both sides know is set
    assert hf.hardening_ssh_usable(wanted, found["kexalgorithms"], found["kexalgorithms"]) == [
        "sntrup761x25519-sha512@openssh.com"
    ]
    # the control node knows none: sshd's names stay, and the lockout guard refuses them
    assert hf.hardening_ssh_usable(wanted, found["kexalgorithms"], ["curve25519-sha256"]) == [
        "sntrup761x25519-sha512@openssh.com"
    ]
    assert hf.hardening_ssh_usable(wanted, None, None) == wanted


@pytest.mark.parametrize("check_mode,expected", [(True, ["hardening.win_smb1"]), (False, [])])
def test_windows_findings(check_mode, expected):
    assert [f["id"] for f in hf.hardening_windows_findings(["WIN-01"], check_mode)] == expected


# --- the filters that replace the role's Jinja: discovery, passes, guard, status ---------------

REGISTRY = [
    {"id": "SSH-01", "access": True},
    {"id": "KERN-01", "access": False},
    {"id": "PERM-04", "access": False},
    {"id": "PERM-06", "access": True},
    {"id": "SVC-01", "access": False},
]


def test_enabled_controls_follow_the_flags_and_sshd():
    flags = [True, False, True, "yes", True]
    assert hf.hardening_enabled(REGISTRY, flags) == ["SSH-01", "PERM-04", "PERM-06", "SVC-01"]
    # without sshd: the sshd controls (SSH-*, PERM-04) are left out
    assert hf.hardening_enabled(REGISTRY, flags, sshd=False) == ["PERM-06", "SVC-01"]
    with pytest.raises(ValueError, match="4 flags for 5 controls"):
        hf.hardening_enabled(REGISTRY, flags[:4])


def test_perm_items_from_the_stat_results():
    static = [
        {
            "item": {"control": "PERM-03", "path": "/etc/crontab", "mode": "0600", "group": "root"},
            "stat": {"exists": True},
        },
        {
            "item": {"control": "PERM-01", "path": "/etc/gshadow-", "mode": "0640"},
            "stat": {"exists": False},
        },
    ]
    homes = [
        {"item": "/home/maint", "stat": {"exists": True, "isdir": True}},
        {"item": "/home/gone", "stat": {"exists": False}},
        {"item": "/home/file", "stat": {"exists": True, "isdir": False}},
        {"item": "/home/skipped", "skipped": True},
    ]
    assert hf.hardening_perm_items(static, homes) == [
        {
            "control": "PERM-03",
            "path": "/etc/crontab",
            "mode": "0600",
            "group": "root",
            "owner": "root",
        },
        {"path": "/home/maint", "control": "PERM-06", "mode": "0750", "compare": "mode"},
    ]
    assert hf.hardening_perm_items(static) == hf.hardening_perm_items(static, [])[:1]


PROBE = {
    "current": {"kernel.kptr_restrict": "0", "net.ipv4.ip_forward": "1", "fs.suid_dumpable": "2"},
    "noncompliant": ["kernel.kptr_restrict", "net.ipv4.ip_forward", "fs.suid_dumpable"],
    "writable": ["net.ipv4.ip_forward", "fs.suid_dumpable"],
    "not_writable": ["kernel.kptr_restrict"],
}
KERNEL = {"kernel.kptr_restrict": 2, "fs.suid_dumpable": 0}
NETWORK = {"net.ipv4.ip_forward": 0}


def test_sysctl_filters():
    control_of = hf.hardening_sysctl_control({"KERN-01": KERNEL, "NET-01": NETWORK})
    assert control_of == {
        "kernel.kptr_restrict": "KERN-01",
        "fs.suid_dumpable": "KERN-01",
        "net.ipv4.ip_forward": "NET-01",
    }
    assert hf.hardening_sysctl_live(PROBE) == ["net.ipv4.ip_forward", "fs.suid_dumpable"]
    assert hf.hardening_sysctl_live(PROBE, control_of, ["NET-01"]) == ["net.ipv4.ip_forward"]
    assert hf.hardening_sysctl_live(PROBE, control_of, []) == []
    assert hf.hardening_sysctl_current(PROBE) == {
        "net.ipv4.ip_forward": "1",
        "fs.suid_dumpable": "2",
    }
    assert hf.hardening_not_writable(PROBE, {"KERN-01": KERNEL, "NET-01": NETWORK}) == {
        "KERN-01": ["kernel.kptr_restrict"],
        "NET-01": [],
    }


def test_host_only_sysctls_are_not_applicable_where_none_can_be_written():
    groups = {
        "KERN-01": KERNEL,
        "KERN-02": {"kernel.ctrl-alt-del": 0, "net.core.bpf_jit_harden": 2},
    }
    container = {
        "writable": [],
        "not_writable": ["kernel.kptr_restrict", "net.core.bpf_jit_harden"],
    }
    na = hf.hardening_not_applicable(container, groups, ["KERN-02"])
    assert list(na) == ["KERN-02"] and "container" in na["KERN-02"]
    # its keys are then not reported as "not writable" either
    assert hf.hardening_not_writable(container, groups, na) == {"KERN-01": ["kernel.kptr_restrict"]}
    vm = {"writable": ["kernel.ctrl-alt-del", "net.core.bpf_jit_harden"], "not_writable": []}
    assert hf.hardening_not_applicable(vm, groups, ["KERN-02"]) == {}
    assert hf.hardening_sysctl_wanted(groups, ["KERN-02"]) == groups["KERN-02"]
    assert hf.hardening_sysctl_wanted(groups) == {**KERNEL, **groups["KERN-02"]}


PACKAGES = [
    {"control": "AUTH-03", "package": "libpam-pwquality"},
    {"control": "AUTH-04", "package": ""},  # none on this OS family
    {"control": "LOG-01", "package": "rsyslog"},
]


def test_missing_packages_of_the_scope():
    installed = {"rsyslog": [{"version": "8"}]}
    scope = ["AUTH-03", "AUTH-04", "LOG-01"]
    assert hf.hardening_missing_packages(PACKAGES, scope, installed) == ["libpam-pwquality"]
    assert hf.hardening_missing_packages(PACKAGES, ["LOG-01"], installed) == []


def test_access_todo_and_planned_sshd_values():
    assert hf.hardening_access_todo(REGISTRY, ["KERN-01", "PERM-06", "SSH-01"]) == [
        "PERM-06",
        "SSH-01",
    ]
    assert hf.hardening_access_todo(REGISTRY, ["KERN-01", "SVC-01"]) == []
    entries = [
        {"control": "SSH-01", "lines": [{"key": "PermitRootLogin", "value": "no"}]},
        {
            "control": "SSH-03",
            "lines": [{"key": "MaxAuthTries", "value": 3}, {"key": "LoginGraceTime", "value": 30}],
        },
    ]
    assert hf.hardening_ssh_planned(entries, ["SSH-03"]) == {
        "MaxAuthTries": 3,
        "LoginGraceTime": 30,
    }
    assert hf.hardening_ssh_planned(entries, []) == {}


@pytest.mark.parametrize(
    "table,todo,kw,expected",
    [
        ([{"status": "fixed"}], ["SSH-01"], {}, "changed"),
        ([{"status": "compliant"}], [], {}, "ok"),
        ([{"status": "failed"}], ["SSH-01"], {}, "failed"),
        ([{"status": "noncompliant"}], ["SSH-01"], {"refused": True}, "failed"),
        ([], [], {"drift": [{"key": "MaxAuthTries"}]}, "failed"),
        ([], [], {"after_problems": ["no key"]}, "failed"),
    ],
)
def test_status(table, todo, kw, expected):
    assert hf.hardening_status(table, todo, **kw) == expected
