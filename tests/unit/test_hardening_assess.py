"""Hardening on the effective state: comparisons, the sysctl and pwquality fixes, the sudoers
items, the per-control assessment (evidence, changes, would_fail, latent) and data.changes."""

import pytest

from tests.conftest import load_plugin

hu = load_plugin("plugins/module_utils/hardening.py", "maint_hardening_utils_assess")
hf = load_plugin("plugins/filter/hardening.py", "maint_hardening_filter_assess")
fi = load_plugin("plugins/module_utils/findings.py", "maint_findings_assess")


@pytest.mark.parametrize(
    "compare,effective,wanted,ok",
    [
        ("eq", "No", "no", True),
        ("eq", "yes", "no", False),
        (None, "VERBOSE", "verbose", True),
        ("subset", "c,a", "a,b,c", True),
        ("subset", "a,d", "a,b,c", False),
        ("subset", "", "a,b", False),
        ("max", "2", "3", True),
        ("max", "0", "3", False),
        ("max", "6", "3", False),
        ("min", "16", "14", True),
        ("min", "8", "14", False),
        ("umask", "077", "027", True),
        ("umask", "022", "027", False),
        ("mode", "0600", "0640", True),
        ("mode", "0644", "0640", False),
        ("eq", None, "no", False),
        ("max", "abc", "3", False),
    ],
)
def test_compliant(compare, effective, wanted, ok):
    assert hu.compliant(compare, effective, wanted) is ok


def test_compliant_rejects_an_unknown_comparison():
    with pytest.raises(ValueError):
        hu.compliant("near", "1", "1")


def test_expected_text_and_find_setting():
    assert hu.expected_text("maxauthtries", 3, "max") == "maxauthtries 3 or less (not 0)"
    assert hu.expected_text("UMASK", "027", "umask") == "UMASK 027 or stricter"
    text = "#PASS_MAX_DAYS 1\nPASS_MAX_DAYS\t99999\n# PASS_MAX_DAYS is prose\nPASS_MAX_DAYS 90\n"
    assert hu.find_setting(text, "PASS_MAX_DAYS") == ("90", 4)
    assert hu.find_setting("kernel.sysrq=1\n", "kernel.sysrq") == ("1", 1)
    assert hu.find_setting("", "X") == (None, None)


def test_evidence_in_findings():
    ev = fi.evidence("permitrootlogin yes", "permitrootlogin no", "/etc/ssh/sshd_config:3")
    built = fi.finding("hardening", "ssh_root_login", "high", "m", "r", evidence=ev)
    assert built["evidence"] == {
        "effective": "permitrootlogin yes",
        "expected": "permitrootlogin no",
        "source": "/etc/ssh/sshd_config:3",
    }
    assert "evidence" not in fi.finding("hardening", "x", "low", "m", "r")
    with pytest.raises(ValueError, match="evidence needs exactly"):
        fi.finding("hardening", "x", "low", "m", "r", evidence={"effective": "1"})
    assert fi.finder("patching")("x", "low", "m", "r", evidence=ev)["evidence"] == ev


ROLE_FILE = "/etc/sysctl.d/99-maint-hardening.conf"
WANTED = {"kernel.sysrq": 0, "fs.protected_fifos": 2, "kernel.kptr_restrict": 2, "net.x": 0}
CONTROL_OF = {
    "kernel.sysrq": "KERN-01",
    "fs.protected_fifos": "KERN-01",
    "kernel.kptr_restrict": "KERN-01",
    "net.x": "NET-01",
}


def test_sysctl_entries_fix_where_the_value_is_decided():
    persisted = {
        "kernel.sysrq": {"value": "0", "source": "/etc/sysctl.d/10-site.conf:1"},
        "fs.protected_fifos": {"value": "1", "source": "/usr/lib/sysctl.d/99-protect-links.conf:7"},
        "kernel.kptr_restrict": {"value": "1", "source": "/etc/sysctl.conf:3"},
        "net.x": None,
    }
    entries = hf.hardening_sysctl_entries(
        WANTED, CONTROL_OF, persisted, ROLE_FILE, ["KERN-01", "NET-01"]
    )
    by_path = {(e["control"], e["path"]): e for e in entries}
    # compliant elsewhere: nothing to do; not persisted: the role's file
    assert by_path[("NET-01", ROLE_FILE)]["lines"] == [{"key": "net.x", "value": 0}]
    # a vendor file is overridden by a copy of the same name in /etc
    vendor = by_path[("KERN-01", "/etc/sysctl.d/99-protect-links.conf")]
    assert vendor["base"] == "/usr/lib/sysctl.d/99-protect-links.conf"
    assert vendor["lines"] == [{"key": "fs.protected_fifos", "value": 2}]
    # /etc/sysctl.conf comes last: its line is changed in place
    conf = by_path[("KERN-01", "/etc/sysctl.conf")]
    assert conf["create"] is False and conf["lines"] == [
        {"key": "kernel.kptr_restrict", "value": 2}
    ]
    assert ("KERN-01", ROLE_FILE) not in by_path
    assert hf.hardening_sysctl_entries(WANTED, CONTROL_OF, persisted, ROLE_FILE, []) == []


def test_pwquality_lines_only_what_pwquality_conf_decides():
    conf = "/etc/security/pwquality.conf"
    wanted = {
        "minlen": {"value": 14, "compare": "min"},
        "minclass": {"value": 3, "compare": "min"},
        "retry": {"value": 3, "compare": "max"},
    }
    settings = {
        "minlen": {"value": "8", "source": "/etc/pam.d/common-password:25"},
        "minclass": {"value": "4", "source": conf + ":3"},
    }
    lines = hf.hardening_pwquality_lines(settings, wanted, conf)
    assert lines == [{"key": "retry", "value": 3, "compare": "max"}]


def test_sudoers_items():
    tree = [
        {"path": "/etc/sudoers", "kind": "file", "via": ""},
        {"path": "/etc/sudoers.d", "kind": "dir", "via": "/etc/sudoers:50"},
    ]
    items = hf.hardening_sudoers_items(tree)
    assert [(i["path"], i["mode"], i["compare"]) for i in items] == [
        ("/etc/sudoers", "0440", "mode"),
        ("/etc/sudoers.d", "0750", "mode"),
    ]


REGISTRY = [
    {"id": i, "key": i.lower(), "files": []}
    for i in ("SSH-01", "KERN-01", "AUTH-03", "AUTH-04", "LOG-01", "SVC-01", "PERM-03")
]


def _ctx(**extra):
    ctx = {
        "pass": "audit",
        "files": [],
        "sshd": {},
        "packages": [
            {"control": "AUTH-03", "package": "libpam-pwquality"},
            {"control": "AUTH-04", "package": "libpam-tmpdir"},
            {"control": "LOG-01", "package": "rsyslog"},
        ],
        "installed": {"libpam-tmpdir": [{"version": "0.09"}]},
        "apt": {
            "install": {
                "libpam-pwquality": {
                    "name": "libpam-pwquality",
                    "version": "1.4.5-1+b1",
                    "current": None,
                    "action": "install",
                    "pulls": ["libpwquality1 1.4.5-1+b1"],
                    "would_fail": None,
                },
                "rsyslog": {
                    "name": "rsyslog",
                    "would_fail": "apt cannot install rsyslog from this host's sources: no",
                    "pulls": [],
                },
            }
        },
        "pam": {
            "AUTH-03": {
                "service": "passwd",
                "type": "password",
                "module": "pam_pwquality.so",
                "found": False,
                "source": "",
                "module_file": "",
            },
            "AUTH-04": {
                "service": "sshd",
                "type": "session",
                "module": "pam_tmpdir.so",
                "found": False,
                "source": "",
                "module_file": "",
            },
        },
        "pwquality": {"minlen": {"value": "14", "source": "/etc/security/pwquality.conf:1"}},
        "pwquality_wanted": {"minlen": {"value": 14, "compare": "min"}},
        "pwquality_conf": "/etc/security/pwquality.conf",
        "sysctl_live": {
            "current": {"kernel.sysrq": "1"},
            "writable": ["kernel.sysrq"],
        },
        "sysctl_persisted": {
            "kernel.sysrq": {
                "value": "0",
                "source": "/etc/sysctl.d/99-maint-hardening.conf:1",
                "overridden": [{"value": "1", "source": "/etc/sysctl.d/10-old.conf:2"}],
            }
        },
        "sysctl_wanted": {"kernel.sysrq": 0},
        "sysctl_control": {"kernel.sysrq": "KERN-01"},
        "sysctl_set": None,
        "legacy": ["telnetd"],
        "removal": {
            "packages": [
                {"name": "telnetd", "current": "0.17-44", "action": "remove"},
                {"name": "openbsd-inetd", "current": "0.20221205-1", "action": "remove"},
            ],
            "would_fail": None,
        },
        "services": [],
        "syslog_packages": ["rsyslog", "syslog-ng-core"],
        "package_files": {"AUTH-03": ["/etc/pam.d/common-password"]},
    }
    ctx.update(extra)
    return ctx


def test_assess_every_kind_of_control():
    sshd = {
        "SSH-01": {
            "compliant": False,
            "items": [{"key": "PermitRootLogin", "compliant": False, "effective": "x"}],
            "latent": [],
            "changes": [{"control": "SSH-01", "kind": "file", "target": "/f", "would_fail": None}],
            "files": ["/etc/ssh/sshd_config.d/00-cloud.conf"],
            "would_fail": None,
        }
    }
    files = [
        {
            "control": "PERM-03",
            "path": "/etc/crontab",
            "changed": True,
            "items": [{"key": "mode", "compliant": False}],
            "changes": [{"control": "PERM-03", "kind": "mode", "target": "/etc/crontab"}],
        }
    ]
    enabled = [c["id"] for c in REGISTRY]
    out = hf.hardening_assess(REGISTRY, enabled, _ctx(sshd=sshd, files=files))
    assert out["SSH-01"]["noncompliant"] and out["SSH-01"]["files"] == [
        "/etc/ssh/sshd_config.d/00-cloud.conf"
    ]
    assert out["PERM-03"]["noncompliant"] and out["PERM-03"]["files"] == ["/etc/crontab"]
    # KERN-01: the live value differs and is writable: a sysctl change; persisted is fine;
    # the older assignment it overrides is latent risk
    kern = out["KERN-01"]
    assert kern["noncompliant"]
    assert [(c["kind"], c["target"], c["before"], c["after"]) for c in kern["changes"]] == [
        ("sysctl", "kernel.sysrq", "1", "0")
    ]
    assert kern["latent"][0]["source"] == "/etc/sysctl.d/10-old.conf:2"
    # AUTH-03: not in the PAM stack, package missing: install it (with what it pulls) and show
    # the PAM file its profile changes
    auth3 = out["AUTH-03"]
    assert auth3["noncompliant"] and auth3["would_fail"] is None
    assert [(c["kind"], c["target"]) for c in auth3["changes"]] == [
        ("package", "libpam-pwquality"),
        ("file", "/etc/pam.d/common-password"),
    ]
    assert auth3["changes"][0]["pulls"] == ["libpwquality1 1.4.5-1+b1"]
    # AUTH-04: installed but not in the stack: installing cannot fix it
    assert "installed but" in out["AUTH-04"]["would_fail"]
    # LOG-01: the package cannot be installed from this host's sources
    assert out["LOG-01"]["would_fail"].startswith("apt cannot install rsyslog")
    assert out["LOG-01"]["changes"][0]["would_fail"] == out["LOG-01"]["would_fail"]
    # SVC-01: removing telnetd takes openbsd-inetd with it
    (removal,) = out["SVC-01"]["changes"]
    assert removal["action"] == "remove" and removal["pulls"] == ["openbsd-inetd 0.20221205-1"]
    # the plan shows the would-fail controls; the apply leaves them out
    plan = hf.hardening_plan(out, enabled)
    assert "LOG-01" in plan and "AUTH-04" in plan
    todo = hf.hardening_todo(out, enabled, ["SSH-01"])
    assert "LOG-01" not in todo and "AUTH-04" not in todo and "SSH-01" not in todo
    assert hf.hardening_found_files(out, ["PERM-03"]) == {"PERM-03": ["/etc/crontab"]}


def test_assess_compliant_in_effect():
    ctx = _ctx(
        installed={"syslog-ng-core": [{}], "libpam-pwquality": [{}]},
        legacy=[],
        sysctl_live={"current": {"kernel.sysrq": "0"}, "writable": []},
        sysctl_persisted={"kernel.sysrq": {"value": "0", "source": "/etc/sysctl.conf:1"}},
    )
    ctx["pam"]["AUTH-03"].update(
        found=True, source="/etc/pam.d/common-password:1", module_file="/lib/x/pam_pwquality.so"
    )
    out = hf.hardening_assess(REGISTRY, ["KERN-01", "AUTH-03", "LOG-01", "SVC-01"], ctx)
    assert {c: a["noncompliant"] for c, a in out.items()} == {
        "KERN-01": False,
        "AUTH-03": False,
        "LOG-01": False,
        "SVC-01": False,
    }
    assert all(a["changes"] == [] for a in out.values())


def _service(control, name, changed, skipped=False):
    return {"item": {"control": control, "service": name}, "changed": changed, "skipped": skipped}


def test_assess_package_controls_with_services_and_the_aide_database():
    registry = [{"id": i, "key": i.lower(), "files": []} for i in ("AUD-01", "FIM-01", "ACCT-01")]
    packages = [
        {"control": "AUD-01", "package": "auditd"},
        {"control": "FIM-01", "package": "aide"},
        {"control": "ACCT-01", "package": "acct"},
        {"control": "ACCT-01", "package": "sysstat"},
    ]
    ctx = _ctx(
        packages=packages,
        installed={"auditd": [{}], "acct": [{}], "sysstat": [{}]},
        apt={
            "install": {"aide": {"name": "aide", "version": "0.18.3-1", "pulls": ["aide-common"]}}
        },
        # auditd is installed but stopped; sysstat runs; the container rows are skipped
        services=[
            _service("AUD-01", "auditd", True),
            _service("ACCT-01", "sysstat", False),
            _service("ACCT-01", "acct", False, skipped=True),
        ],
        aide={"db": "/var/lib/aide/aide.db", "exists": False, "initialised": False},
    )
    out = hf.hardening_assess(registry, ["AUD-01", "FIM-01", "ACCT-01"], ctx)
    aud = out["AUD-01"]
    assert aud["noncompliant"]
    assert [(c["kind"], c["target"], c["action"]) for c in aud["changes"]] == [
        ("service", "auditd", "set")
    ]
    assert [i["effective"] for i in aud["items"] if not i["compliant"]] == [
        "auditd not running or not enabled"
    ]
    fim = out["FIM-01"]
    assert fim["noncompliant"] and "/var/lib/aide/aide.db" in fim["files"]
    assert [(c["kind"], c["target"]) for c in fim["changes"]] == [
        ("package", "aide"),
        ("file", "/var/lib/aide/aide.db"),
    ]
    assert "aide --init" in fim["changes"][1]["note"]
    assert not out["ACCT-01"]["noncompliant"]
    # after the apply pass initialised the database, the control is compliant and changed
    applied = hf.hardening_assess(
        registry,
        ["FIM-01"],
        dict(
            ctx,
            **{"pass": "apply", "aide": dict(ctx["aide"], initialised=True)},
            installed={"aide": [{}]},
        ),
    )
    assert applied["FIM-01"]["changed"] and not applied["FIM-01"]["noncompliant"]


def test_compilers_a_planned_package_installs_are_planned_and_restricted():
    registry = [{"id": "CC-01", "key": "compilers", "files": []}]
    incoming = {"/usr/bin/as": "binutils"}
    audit = hf.hardening_assess(
        registry, ["CC-01"], _ctx(compilers_incoming=incoming, compilers_mode="0750")
    )["CC-01"]
    assert audit["noncompliant"]
    (planned,) = audit["changes"]
    assert (planned["kind"], planned["target"], planned["after"]) == ("mode", "/usr/bin/as", "0750")
    assert "binutils" in planned["note"]
    applied = hf.hardening_assess(
        registry,
        ["CC-01"],
        _ctx(compilers_incoming=incoming, compilers_mode="0750", compilers_restricted=True)
        | {"pass": "apply"},
    )["CC-01"]
    # the apply reports the change the plan showed, and the control is compliant after it
    assert applied["changed"] and not applied["noncompliant"]
    assert [c["target"] for c in applied["changes"]] == ["/usr/bin/as"]
    quiet = hf.hardening_assess(registry, ["CC-01"], _ctx())["CC-01"]
    assert not quiet["noncompliant"] and quiet["changes"] == []


def test_not_applicable_controls_are_neither_judged_nor_scored():
    registry = [
        {"id": "KERN-01", "key": "k1", "title": "t", "flag": "f1", "severity": "low"},
        {"id": "KERN-02", "key": "k2", "title": "t", "flag": "f2", "severity": "low"},
    ]
    ctx = _ctx(
        sysctl_live={"current": {"kernel.ctrl-alt-del": "1"}, "writable": []},
        sysctl_wanted={"kernel.ctrl-alt-del": 0},
        sysctl_control={"kernel.ctrl-alt-del": "KERN-02"},
        sysctl_persisted={},
        not_applicable={"KERN-02": "only a full host can set these"},
    )
    out = hf.hardening_assess(registry, ["KERN-02"], ctx)
    assert not out["KERN-02"]["noncompliant"] and out["KERN-02"]["changes"] == []
    table = hf.hardening_controls(
        registry,
        ["KERN-01", "KERN-02"],
        {"KERN-01": {"noncompliant": False}, **out},
        not_applicable={"KERN-02": "only a full host can set these"},
    )
    row = table[1]
    assert row["status"] == "not_applicable" and row["reason"].startswith("only a full host")
    assert hf.hardening_score(table) == {"compliant": 1, "enabled": 1, "percent": 100.0}


def test_changes_in_registry_order_with_the_sshd_reload():
    assessment = {
        "SSH-01": {"changes": [{"control": "SSH-01", "kind": "file", "would_fail": None}]},
        "PERM-03": {"changes": [{"control": "PERM-03", "kind": "mode"}]},
    }
    changes = hf.hardening_changes(assessment, ["SSH-01", "PERM-03"], "ssh")
    assert [(c["control"], c["kind"], c.get("action", "")) for c in changes] == [
        ("SSH-01", "file", ""),
        ("PERM-03", "mode", ""),
        ("HARD-05", "service", "reload"),
    ]
    assert hf.hardening_changes(assessment, ["PERM-03"]) == assessment["PERM-03"]["changes"]
    assert hf.hardening_applied({"A": {"changed": True}, "B": {"changes": []}}, ["A", "B"]) == ["A"]


hb = load_plugin("plugins/modules/hardening_backup.py", "maint_hardening_backup_module")


def test_backup_records_the_directories_a_new_file_needs(tmp_path):
    (tmp_path / "etc").mkdir()
    target = tmp_path / "etc" / "needrestart" / "conf.d" / "maint-hardening.conf"
    assert hb.missing_dirs(str(target)) == [
        str(tmp_path / "etc" / "needrestart" / "conf.d"),
        str(tmp_path / "etc" / "needrestart"),
    ]
    assert hb.missing_dirs(str(tmp_path / "etc" / "x.conf")) == []
