"""Verify the access_review scenario (testinfra): the review finds exactly what was planted and
changes nothing; side_effect's window comparison, remediation and rollback did their part."""

import re

from testinfra_helpers import (
    after_side_effect,
    file_changes,
    load_snapshot,
    package_changes,
)
from testinfra_helpers import phase as saved_phase

PLANTED = {
    ("access_review.uid0", "critical", "rogue"),
    ("access_review.unapproved_user", "high", "rogue"),
    ("access_review.unapproved_key", "high", "bob"),
    ("access_review.unapproved_admin", "high", "bob"),
    ("access_review.nopasswd", "high", "bob"),
    ("access_review.stale_account", "medium", "carol"),
    ("access_review.unapproved_listener", "high", "8089"),
}


# The phases side_effect runs: absent on the first verify.
SIDE_EFFECT_PHASES = ("before", "after", "remediate", "reconcile", "rollback")


def phase(results, name, index=0):
    if name in SIDE_EFFECT_PHASES:
        after_side_effect(results, name)
    return saved_phase(results, name, index)


def serious(result):
    return [f for f in result["findings"] if f["severity"] != "info"]


def matches(finding, expected):
    fid, severity, subject = expected
    return (
        finding["id"] == fid and finding["severity"] == severity and subject in finding["message"]
    )


def test_review_reports_exactly_what_was_planted(results):
    review = phase(results, "converge")
    found = serious(review)
    for expected in PLANTED:
        assert any(matches(f, expected) for f in found), f"missing {expected}"
    unexpected = [f for f in found if not any(matches(f, e) for e in PLANTED)]
    assert unexpected == []
    assert all(f["recommendation"] for f in found)


def test_review_is_report_only_in_check_mode_and_idempotent(results):
    check, first, second = (
        phase(results, "check"),
        phase(results, "converge"),
        phase(results, "converge", 1),
    )
    assert [r["status"] for r in (check, first, second)] == ["ok", "ok", "ok"]
    assert check["data"]["check_mode"] is True
    assert check["data"]["changes"] == []  # remediation is off: the review changes nothing
    # an age in days moves on when a run crosses the time of day of carol's last login
    ids = lambda r: sorted(  # noqa: E731
        (f["id"], re.sub(r"\d+ days ago", "N days ago", f["message"])) for f in serious(r)
    )
    assert ids(check) == ids(first) == ids(second)
    assert first["data"]["protected_users"] == ["maint", "root"]


def test_host_state_matches_the_last_run(host):
    # Report-only runs changed nothing, and the rollback (second verify) put everything back.
    assert "bob@lab" in host.file("/home/bob/.ssh/authorized_keys").content_string
    # carol keeps the expiry date prepare gave her (2099-12-31): the rollback put it back
    assert host.run("getent shadow carol").stdout.split(":")[7] == "47481"
    assert "maint@lab" in host.file("/home/maint/.ssh/authorized_keys").content_string


def test_window_comparison_reports_what_appeared(results):
    after = phase(results, "after")
    appeared = [
        f["message"] for f in after["findings"] if f["id"] == "access_review.appeared_during_window"
    ]
    assert any("intruder" in m for m in appeared), appeared
    assert any("8090" in m for m in appeared), appeared
    assert not any("8089" in m or "'bob'" in m for m in appeared), appeared  # were there before


def test_remediation_expired_the_stale_account_and_removed_the_unapproved_key(results):
    remediate = phase(results, "remediate")
    assert remediate["status"] == "changed"
    assert remediate["data"]["remediated"]["expired"] == ["carol"]
    (removed,) = remediate["data"]["remediated"]["removed_keys"]
    bob_keys = [k for k in remediate["data"]["authorized_keys"] if k["user"] == "bob"]
    assert removed == bob_keys[0]["fingerprint"]
    targets = remediate["data"]["remediation_targets"]
    assert all(k["user"] not in ("maint", "intruder") for k in targets["remove_keys"])
    assert remediate["rollback"]["manifest_path"].startswith("/var/lib/maint/access_review/")
    # data.changes: the key removed from its file and the account expired, with its expiry
    changes = {
        (c["control"], c["kind"], c["target"], c["action"]) for c in remediate["data"]["changes"]
    }
    assert changes == {
        ("AR-05", "key", "/home/bob/.ssh/authorized_keys", "remove"),
        ("AR-05", "account", "carol", "expire"),
    }
    (account,) = [c for c in remediate["data"]["changes"] if c["kind"] == "account"]
    assert account["before"] == "expires 2099-12-31"


def test_reconcile_records_what_the_remediation_run_changed(results):
    remediate = phase(results, "remediate")
    reconciled = phase(results, "reconcile")
    run = "run-4444-20261206T101500123456"
    assert remediate["rollback"] == {
        "manifest_path": f"/var/lib/maint/access_review/manifest-{run}.json"
    }
    assert reconciled["task"] == "access_review"
    assert reconciled["status"] == "changed"
    assert (reconciled["data"]["run"], reconciled["data"]["found"]) == (run, True)
    assert reconciled["data"]["changed"] == ["/home/bob/.ssh/authorized_keys", "account:carol"]
    # the record the remediation published, so the runner's rollback path takes it unchanged
    assert reconciled["rollback"] == remediate["rollback"]


def test_rollback_restored_keys_and_reenabled_accounts(results):
    rollback = phase(results, "rollback")
    assert rollback["status"] == "changed"
    assert rollback["data"]["reenabled"] == ["carol"]
    assert rollback["data"]["restored_files"] == ["/home/bob/.ssh/authorized_keys"]


def test_check_mode_left_no_trace(host):
    name = host.backend.get_hostname()
    prepared, checked = load_snapshot(name, "prepared"), load_snapshot(name, "check")
    assert file_changes(prepared, checked) == {}
    assert package_changes(prepared, checked) == {}


# What shadow's tools rewrite on every change (their backup copies) and the role's own records.
NOT_MANAGED = (
    "/root/.ansible/",
    "/var/lib/maint/",
    "/etc/shadow-",
    "/etc/gshadow-",
    "/etc/passwd-",
    "/etc/group-",
    "/var/log/",
)


def test_rollback_put_every_file_back(results, host):
    after_side_effect(results, "rollback")
    name = host.backend.get_hostname()
    before, after = load_snapshot(name, "remediatebefore"), load_snapshot(name, "rollback")
    changed = file_changes(before, after, outside=NOT_MANAGED)
    # bob's authorized_keys (content, mode, owner) and carol's expiry in /etc/shadow
    assert changed == {}, sorted(changed)
    assert package_changes(before, after) == {}
