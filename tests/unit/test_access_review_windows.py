"""Windows access review findings from PowerShell JSON shapes."""

from tests.conftest import load_plugin

flt = load_plugin("plugins/filter/access_review.py", "maint_access_review_filter")
findings = flt.access_review_windows_findings
NOW = "2026-11-23T12:00:00Z"

ADMINS = [
    {"name": "WS01\\Administrator", "class": "User", "source": "Local"},
    {"name": "WS01\\helpdesk", "class": "User", "source": "Local"},
    {"name": "CORP\\Domain Admins", "class": "Group", "source": "ActiveDirectory"},
]
USERS = [
    {"name": "Administrator", "enabled": False, "last_logon": None},
    {"name": "Guest", "enabled": True, "last_logon": None},
    {"name": "helpdesk", "enabled": True, "last_logon": "2026-01-02T08:00:00.1234567+00:00"},
    {"name": "alice", "enabled": True, "last_logon": "2026-11-20T08:00:00.0000000Z"},
]


def ids(result):
    return [f["id"] for f in result]


def test_unapproved_admin_stale_and_guest():
    result = findings(ADMINS, USERS, approved_admins=["alice"], now=NOW)
    assert ids(result) == [
        "access_review.unapproved_admin",
        "access_review.guest_enabled",
        "access_review.stale_account",
    ]
    assert "'helpdesk'" in result[0]["message"]
    assert "325 days" in result[2]["message"]


def test_single_objects_from_convertto_json_and_no_baseline():
    result = findings(ADMINS[1], USERS[3], approved_admins=None, now=NOW)
    assert result == []


def test_rdp_policy():
    assert ids(findings([], [], rdp_enabled=True, nla_required=False, now=NOW)) == [
        "access_review.rdp_enabled",
        "access_review.rdp_without_nla",
    ]
    assert findings([], [], rdp_enabled=True, nla_required=True, rdp_allowed=True, now=NOW) == []
