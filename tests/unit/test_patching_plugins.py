"""The patching manifest logic and the filters that build findings."""

from tests.conftest import load_plugin

manifest = load_plugin("plugins/module_utils/patch_manifest.py", "maint_patch_manifest")
filters = (
    load_plugin("plugins/filter/patching.py", "maint_patching_filters").FilterModule().filters()
)

TRANSACTION = [
    {
        "name": "maint-fixture",
        "current": "1.0",
        "candidate": "1.1",
        "arch": "all",
        "action": "upgrade",
        "security": False,
    },
    {
        "name": "maint-fixture-tools",
        "current": "1.0",
        "candidate": "1.1",
        "arch": "all",
        "action": "upgrade",
        "security": True,
    },
    {
        "name": "newdep",
        "current": None,
        "candidate": "2.0",
        "arch": "amd64",
        "action": "install",
        "security": False,
    },
]


def _manifest():
    m = manifest.build_manifest("20260101T000000Z", "2026-01-01T00:00:00Z", TRANSACTION)
    for pkg in m["packages"]:
        if pkg["before"]:
            pkg["deb"] = f"/var/lib/maint/patching/x/debs/{pkg['name']}_{pkg['before']}_all.deb"
    return m


def test_manifest_records_before_and_after():
    m = _manifest()
    assert [(p["name"], p["before"], p["after"]) for p in m["packages"]] == [
        ("maint-fixture", "1.0", "1.1"),
        ("maint-fixture-tools", "1.0", "1.1"),
        ("newdep", None, "2.0"),
    ]
    assert m["rolled_back_at"] is None


def test_rollback_actions_after_a_patch_run():
    installed = {"maint-fixture": "1.1", "maint-fixture-tools": "1.1", "newdep": "2.0"}
    reinstall, remove, missing = manifest.rollback_actions(_manifest(), installed)
    assert [p["name"] for p in reinstall] == ["maint-fixture", "maint-fixture-tools"]
    assert remove == ["newdep"]
    assert missing == []


def test_rollback_is_a_no_op_when_already_restored():
    installed = {"maint-fixture": "1.0", "maint-fixture-tools": "1.0", "newdep": None}
    assert manifest.rollback_actions(_manifest(), installed) == ([], [], [])
    assert manifest.verify(_manifest(), installed) == {}


def test_rollback_reports_packages_without_a_kept_deb():
    m = _manifest()
    m["packages"][0]["deb"] = None
    _reinstall, _remove, missing = manifest.rollback_actions(m, {"maint-fixture": "1.1"})
    assert missing == ["maint-fixture"]


def test_verify_names_the_wrong_versions():
    wrong = manifest.verify(_manifest(), {"maint-fixture": "1.1", "maint-fixture-tools": "1.0"})
    assert wrong == {"maint-fixture": {"expected": "1.0", "found": "1.1"}}


def test_pins_are_exact_versions():
    pins = filters["patching_pins"]([*TRANSACTION, {"name": "gone", "action": "remove"}])
    assert pins == ["maint-fixture=1.1", "maint-fixture-tools=1.1", "newdep=2.0"]


def test_findings_in_check_mode_split_security_and_other():
    findings = filters["patching_findings"](TRANSACTION, TRANSACTION, check_mode=True)
    by_id = {f["id"]: f for f in findings}
    assert by_id["patching.security_updates_pending"]["severity"] == "high"
    assert "maint-fixture-tools" in by_id["patching.security_updates_pending"]["message"]
    assert by_id["patching.updates_pending"]["message"].startswith("2 update(s)")


def test_findings_after_apply():
    findings = filters["patching_findings"](
        TRANSACTION,
        TRANSACTION,
        skipped={"linux-image-amd64": "held"},
        applied=True,
        reboot_required=True,
        failed_services=["maint-fixture"],
        failed_commands=["/usr/bin/maint-fixture check"],
        missing_debs=["newdep"],
    )
    ids = [f["id"] for f in findings]
    assert ids == [
        "patching.held_packages",
        "patching.reboot_pending",
        "patching.service_down",
        "patching.post_check_failed",
        "patching.rollback_incomplete",
    ]
    assert all(f["recommendation"] for f in findings)


def test_no_reboot_finding_when_the_reboot_is_allowed():
    findings = filters["patching_findings"](
        [], [], applied=True, reboot_required=True, reboot_allowed=True
    )
    assert findings == []


def test_down_services_handles_sysv_and_systemd_names():
    facts = {
        "maint-fixture": {"state": "running"},
        "ssh.service": {"state": "running"},
        "cron.service": {"state": "stopped"},
    }
    assert filters["patching_down_services"](["maint-fixture", "ssh", "cron", "nope"], facts) == [
        "cron",
        "nope",
    ]


def test_rpm_transaction_and_security_names():
    updates = [
        {
            "name": "openssl",
            "version": "3.0.7",
            "release": "27.el9",
            "arch": "x86_64",
            "repo": "baseos",
        },
        {
            "name": "vim-minimal",
            "version": "9.0",
            "release": "2.el9",
            "arch": "x86_64",
            "repo": "baseos",
        },
    ]
    installed = {"openssl": [{"version": "3.0.7", "release": "25.el9"}]}
    security = filters["patching_security_names"](
        ["RHSA-2024:1234 Important/Sec. openssl-1:3.0.7-27.el9.x86_64"]
    )
    assert security == ["openssl"]
    chosen = filters["patching_rpm_transaction"](updates, installed, security, security_only=True)
    assert chosen == [
        {
            "name": "openssl",
            "current": "3.0.7-25.el9",
            "candidate": "3.0.7-27.el9",
            "arch": "x86_64",
            "origins": ["baseos"],
            "action": "upgrade",
            "security": True,
        }
    ]
    assert len(filters["patching_rpm_transaction"](updates, installed, security)) == 2
