"""The one builder of data.changes entries: diffs, redaction, kinds and actions
(plugins/module_utils/changes.py)."""

import pytest

from tests.conftest import load_plugin

ch = load_plugin("plugins/module_utils/changes.py", "maint_changes")


@pytest.mark.parametrize(
    "line,redacted",
    [
        ("HTTPProxyPassword s3cret", "HTTPProxyPassword <redacted>"),
        ("#HTTPProxyPassword s3cret", "#HTTPProxyPassword <redacted>"),
        ("  token = abc\n", "  token = <redacted>\n"),
        ("client_secret: x", "client_secret: <redacted>"),
        ("PasswordAuthentication no", "PasswordAuthentication no"),
        ("PermitEmptyPasswords no", "PermitEmptyPasswords no"),
        ("# Password aging controls:", "# Password aging controls:"),
        ("PASS_MAX_DAYS 99999", "PASS_MAX_DAYS 99999"),
    ],
)
def test_redaction(line, redacted):
    assert ch.redact_line(line) == redacted


def test_file_change_diff_is_redacted_and_applies():
    before = "DatabaseMirror db.local\nHTTPProxyPassword old\n"
    after = "DatabaseMirror db.local\nPrivateMirror https://m\nHTTPProxyPassword new\n"
    entry = ch.file_change("AV-02", "/etc/clamav/freshclam.conf", before, after)
    assert entry["kind"] == "file" and entry["action"] == "modify"
    assert "old" not in entry["diff"] and "new" not in entry["diff"]
    assert "+PrivateMirror https://m\n" in entry["diff"]
    assert entry["pulls"] == [] and entry["would_fail"] is None
    assert ch.file_change("X", "/p", "same", "same") is None


@pytest.mark.parametrize(
    "before,after",
    [
        (None, "new\n"),
        ("old\n", None),
        ("a\nb\nc\n", "a\nB\nc\nd\n"),
        ("a\nb", "a\nc"),
        ("x\n" * 20 + "y\n", "x\n" * 20 + "z\n"),
    ],
)
def test_a_diff_applied_to_the_old_text_gives_the_new(before, after):
    diff = ch.unified_diff("/etc/f", before, after)
    assert ch.apply_unified_diff(before, diff) == after


def test_apply_refuses_a_diff_that_does_not_match():
    diff = ch.unified_diff("/etc/f", "a\nb\n", "a\nc\n")
    with pytest.raises(ValueError, match="does not match"):
        ch.apply_unified_diff("a\nX\n", diff)


def test_kinds_actions_and_mode_changes():
    entry = ch.change(
        "AUTH-03",
        "package",
        "libpam-pwquality",
        "install",
        after="1.4.5",
        pulls=["libpwquality1 1.4.5"],
        note="n",
    )
    assert entry == {
        "control": "AUTH-03",
        "kind": "package",
        "target": "libpam-pwquality",
        "action": "install",
        "before": None,
        "after": "1.4.5",
        "diff": None,
        "pulls": ["libpwquality1 1.4.5"],
        "would_fail": None,
        "note": "n",
    }
    with pytest.raises(ValueError, match="unknown kind"):
        ch.change("X", "disk", "/", "set")
    with pytest.raises(ValueError, match="unknown action"):
        ch.change("X", "file", "/", "chmod")
    modes = ch.mode_changes(
        "PERM-03",
        "/etc/crontab",
        {"mode": "0644", "owner": "root", "group": "crontab"},
        {"mode": "0600", "owner": "root", "group": "root"},
    )
    assert [(m["kind"], m["before"], m["after"]) for m in modes] == [
        ("mode", "0644", "0600"),
        ("owner", "root:crontab", "root:root"),
    ]
