"""Unit tests of the access_review module and its module_utils, on real sample trees.

The inputs are files under tests/unit/samples/access_review (see its README for how each one was
made). The pure logic is imported straight from plugins/module_utils; the module itself is run
as Ansible runs it (``python -m ... args.json``) through a temporary ``ansible_collections``
tree that links to this repository.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import load_plugin

REPO = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).resolve().parent / "samples" / "access_review"
HOST = SAMPLES / "host"
CLEAN = SAMPLES / "clean"
COMMANDS = SAMPLES / "commands"
MODULE = REPO / "plugins" / "modules" / "access_review.py"

# The moment lastlog.txt and the shadow ages were written for.
NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)
TODAY = 20780  # days since 1970-01-01 for NOW

ar = load_plugin("plugins/module_utils/access_review.py", "maint_access_review_utils")

FP = {
    "alice": "SHA256:YcqTxBKs5cElt02UjJXZt38DhbHuND0p9dNiFpgl6LI",
    "bob": "SHA256:IGvsV29v1ul8GZmzCDzQUs5a14Y82riOiOtEtOd9fNw",
    "intruder": "SHA256:DTIGG9fYACi/GoyDWWBZN2laCVSlburA7GcmNHXsu+w",
    "backup": "SHA256:OdTnt1NyggO/3qm4VgFmeOJT0MewLkP48pc/v68oAeY",
    "deploy": "SHA256:MRIhbXDl43Mj4PyPWlOj2ZvpAjwPCDjA9t49gNse+SI",
    "dsa": "SHA256:vseW+/QCti3cRPC0f+/ESwYazTMdPL/EY1GIZ+DTOGU",
    "root": "SHA256:veAm6ekotaWIhXdQ9rME+DLbSJ0vMkUE0jfD0MutgPU",
}

ALL_SAMPLE_LISTENERS = [
    "tcp/22",
    "tcp/2024",
    "tcp/127.0.0.1:5432",
    "tcp/[::1]:5432",
    "tcp/127.0.0.1:55432",
    "tcp/0.0.0.0:3389",
    "tcp/127.0.0.1:5900",
    "udp/*:123",
    "udp/127.0.0.1:323",
    "udp/[::1]:323",
    "udp/5353",
]

# The approved state of the clean tree.
CLEAN_BASELINE = {
    "approved_users": ["alice", "bob", "deploy"],
    "approved_admins": ["alice"],
    "approved_nopasswd": ["deploy"],
    "approved_keys": {
        "alice": [FP["alice"]],
        "bob": [FP["bob"].removeprefix("SHA256:")],  # the prefix is optional
        "deploy": [FP["deploy"]],
    },
    "strict_keys": True,
    "allowed_listeners": ALL_SAMPLE_LISTENERS,
}

# What the organisation approved for the problem host: the findings are the rest.
HOST_BASELINE = {
    "approved_users": ["alice", "bob", "carol", "eve", "deploy"],
    "approved_admins": ["alice"],
    "approved_nopasswd": ["deploy"],
    "approved_keys": {"alice": [FP["alice"]], "bob": [FP["bob"]], "root": [FP["root"]]},
    "allowed_listeners": [
        "tcp/22",
        "tcp/2024",
        "tcp/127.0.0.1:5432",
        "tcp/[::1]:5432",
        "tcp/127.0.0.1:55432",
        "udp/*:123",
        "udp/127.0.0.1:323",
        "udp/[::1]:323",
    ],
}


def sample_commands(missing=()):
    """run_command answering with the captured outputs; programs in ``missing`` are absent."""
    outputs = {
        ("lastlog",): "lastlog.txt",
        ("ss", "-H", "-tlnp"): "ss_tcp.txt",
        ("ss", "-H", "-ulnp"): "ss_udp.txt",
    }
    calls = []

    def run(argv):
        calls.append(list(argv))
        if argv[0] in missing:
            return 127, "", f"{argv[0]}: command not found"
        return 0, (COMMANDS / outputs[tuple(argv)]).read_text(), ""

    run.calls = calls
    return run


def collect(root=HOST, missing=(), **params):
    return ar.collect(str(root), params, sample_commands(missing), now=NOW)


def by_id(result, fid):
    return [f for f in result["findings"] if f["id"] == "access_review." + fid]


def messages(result, fid):
    return [f["message"] for f in by_id(result, fid)]


def named(result, fid, name):
    """Findings of ``fid`` whose message names ``name`` in quotes."""
    return [f for f in by_id(result, fid) if f"'{name}'" in f["message"]]


@pytest.fixture(scope="module")
def host():
    return collect(**HOST_BASELINE)


# ---------------------------------------------------------------------------------------------
# Accounts


def test_password_states_and_ages_without_hashes(host):
    accounts = {a["name"]: a for a in host["accounts"]}
    assert accounts["root"]["password_state"] == "set"
    assert accounts["daemon"]["password_state"] == "locked"
    assert accounts["bob"]["password_state"] == "locked"  # "!" before a hash
    assert accounts["deploy"]["password_state"] == "locked"  # "!*"
    assert accounts["dave"]["password_state"] == "empty"
    assert accounts["carol"]["password_age_days"] == 800
    assert accounts["alice"]["password_age_days"] == 10
    assert accounts["sync"]["login_shell"] is False  # /bin/sync
    assert accounts["nobody"]["human"] is False
    assert accounts["alice"]["human"] is True
    dumped = json.dumps(host)
    assert "$6$" not in dumped
    for line in (HOST / "etc" / "shadow").read_text().splitlines():
        field = line.split(":")[1]
        if len(field) > 3:
            assert field.lstrip("!") not in dumped


def test_unreadable_shadow_is_reported_not_guessed(tmp_path):
    shutil.copytree(CLEAN, tmp_path / "tree")
    (tmp_path / "tree" / "etc" / "shadow").unlink()
    result = collect(tmp_path / "tree", **CLEAN_BASELINE)
    assert {a["password_state"] for a in result["accounts"]} == {"unknown"}
    assert any("/etc/shadow" in m for m in messages(result, "not_checked"))


def test_uid0_besides_root_is_critical(host):
    found = by_id(host, "uid0")
    assert [f["severity"] for f in found] == ["critical"]
    assert "'toor'" in found[0]["message"]


def test_empty_password_is_critical(host):
    found = by_id(host, "empty_password")
    assert len(found) == 1
    assert found[0]["severity"] == "critical"
    assert "'dave'" in found[0]["message"]


def test_password_age_low_then_medium(host):
    assert [f["severity"] for f in named(host, "password_age", "eve")] == ["low"]  # 500 days
    assert [f["severity"] for f in named(host, "password_age", "carol")] == ["medium"]  # 800
    # alice (10 days) and locked accounts never give one
    assert {m.split("'")[1] for m in messages(host, "password_age")} == {"eve", "carol"}
    relaxed = collect(max_password_age_days=1000)
    assert by_id(relaxed, "password_age") == []


def test_system_account_with_shell(host):
    names = {m.split("'")[1] for m in messages(host, "system_account_shell")}
    assert names == {"backup", "postgres"}  # not root, not sync (/bin/sync), not nologin
    assert {f["severity"] for f in by_id(host, "system_account_shell")} == {"medium"}


def test_unapproved_users(host):
    names = {m.split("'")[1] for m in messages(host, "unapproved_user")}
    # dave and toor are people/UID 0; backup has a shell and an SSH key. postgres has a shell
    # but a locked password and no key: it cannot log in, so it is not asked about.
    assert names == {"dave", "toor", "backup"}
    assert {f["severity"] for f in by_id(host, "unapproved_user")} == {"high"}
    assert by_id(collect(), "unapproved_user") == []  # no list given: not checked


def test_admin_members_and_unapproved_admins(host):
    assert host["admin_members"] == {"sudo": ["alice", "eve"], "wheel": [], "admin": ["carol"]}
    found = by_id(host, "unapproved_admin")
    assert sorted((f["message"].split("'")[1], f["message"].split("'")[3]) for f in found) == [
        ("carol", "admin"),  # by primary group
        ("eve", "sudo"),  # listed member
    ]
    assert {f["severity"] for f in found} == {"high"}
    assert by_id(collect(), "unapproved_admin") == []
    only_sudo = collect(admin_groups=["sudo"], approved_admins=["alice", "eve"])
    assert only_sudo["admin_members"] == {"sudo": ["alice", "eve"]}
    assert by_id(only_sudo, "unapproved_admin") == []


def test_ignore_users_is_carried_through():
    result = collect(ignore_users=["alice"])
    assert result["ignore_users"] == ["alice"]
    assert [a["name"] for a in result["accounts"] if a["ignored"]] == ["alice"]


# ---------------------------------------------------------------------------------------------
# sudo


def test_sudoers_includes_follow_sudo_rules(host):
    files = {r["file"] for r in host["sudo_rules"]}
    assert files == {"/etc/sudoers", "/etc/sudoers.local", "/etc/sudoers.d/10-ops"}
    texts = " ".join(r["text"] for r in host["sudo_rules"])
    assert "eve" not in texts  # 10-ops~ is an editor backup: sudo skips it
    assert "dave" not in texts  # old.conf contains a dot: sudo skips it
    assert ar.sudo_include_allowed("10-ops")
    assert not ar.sudo_include_allowed("10-ops~")
    assert not ar.sudo_include_allowed("old.conf")


def test_sudo_aliases_continuations_and_tags(host):
    rules = {r["text"]: r for r in host["sudo_rules"]}
    backup = rules["BACKUPOPS ALL=(root) NOPASSWD: BACKUP_CMDS"]
    assert backup["principals"] == ["backup", "postgres"]  # User_Alias over two lines
    assert backup["commands"][0]["expanded"] == ["/usr/bin/rsync", "/usr/bin/tar"]
    assert backup["nopasswd"] and not backup["nopasswd_all"]
    monitoring = next(r for r in host["sudo_rules"] if r["file"] == "/etc/sudoers.local")
    assert [(c["command"], c["nopasswd"]) for c in monitoring["commands"]] == [
        ("/usr/lib/nagios/plugins/check_disk", True),
        ("/usr/bin/journalctl", False),  # PASSWD: overrides the NOPASSWD before it
    ]
    assert rules["alice ALL=(ALL) NOPASSWD: EVERYTHING"]["nopasswd_all"]  # Cmnd_Alias = ALL
    assert not rules["%sudo ALL=(ALL:ALL) ALL"]["nopasswd"]


def test_nopasswd_findings(host):
    found = {}
    for f in by_id(host, "nopasswd"):
        who = re.search(r"(user|group) '([^']+)'", f["message"]).group(2)
        found[who] = f["severity"]
    assert found == {
        "carol": "high",
        "bob": "high",
        "alice": "high",  # via Cmnd_Alias EVERYTHING = ALL
        "backup": "medium",
        "postgres": "medium",
        "monitoring": "medium",
    }  # deploy is approved
    assert any("/usr/bin/rsync" in m for m in messages(host, "nopasswd"))
    approved = collect(approved_nopasswd=["deploy", "carol", "bob", "alice", "backup", "postgres"])
    assert [m for m in messages(approved, "nopasswd")] == [
        m for m in messages(approved, "nopasswd") if "'monitoring'" in m
    ]
    assert len(messages(approved, "nopasswd")) == 1
    for spelling in ("%monitoring", "monitoring"):
        group_ok = collect(approved_nopasswd=[spelling])
        assert not [m for m in messages(group_ok, "nopasswd") if "'monitoring'" in m]


def test_sudoers_legacy_syntax_uid_users_and_defaults_authenticate(tmp_path):
    etc = tmp_path / "etc"
    (etc / "sudoers.d").mkdir(parents=True)
    (etc / "sudoers").write_text(
        "# legacy include syntax, relative include, uid user, !authenticate\n"
        "Defaults:ops !authenticate\n"
        "#1001 ALL=(ALL) NOPASSWD: /usr/bin/apt-get  # trailing comment\n"
        "ops ALL=(ALL) /usr/bin/systemctl\n"
        "ALL ALL=(root) NOPASSWD: /usr/bin/uptime\n"
        "#includedir /etc/sudoers.d\n"
    )
    (etc / "sudoers.d" / "extra").write_text("@include ../sudoers.extra\n")
    (etc / "sudoers.extra").write_text("Defaults !authenticate\nkim ALL=(ALL) ALL\n")
    rules, aliases, defaults, unreadable = ar.read_sudoers(str(tmp_path))
    assert unreadable == []
    rules = ar.enrich_sudo_rules(rules, aliases, defaults)
    by_user = {r["principals"][0]: r for r in rules}
    assert by_user["#1001"]["commands"][0]["command"] == "/usr/bin/apt-get"
    assert by_user["ops"]["nopasswd"]  # through Defaults:ops !authenticate
    assert by_user["kim"]["nopasswd_all"]  # through a global Defaults !authenticate
    severities = {
        re.search(r"'([^']+)'", f["message"]).group(1): f["severity"] for f in ar.check_sudo(rules)
    }
    assert severities == {"#1001": "medium", "ops": "medium", "kim": "high", "ALL": "medium"}
    assert any("every user" in f["message"] for f in ar.check_sudo(rules))


def test_missing_sudo_is_not_a_gap_but_unreadable_include_is(tmp_path):
    shutil.copytree(CLEAN, tmp_path / "tree")
    (tmp_path / "tree" / "etc" / "sudoers").unlink()
    shutil.rmtree(tmp_path / "tree" / "etc" / "sudoers.d")
    result = collect(tmp_path / "tree", **CLEAN_BASELINE)
    assert result["sudo_rules"] == []
    assert result["findings"] == []
    (tmp_path / "tree" / "etc" / "sudoers").write_text("@include /etc/sudoers.missing\n")
    result = collect(tmp_path / "tree", **CLEAN_BASELINE)
    assert any("/etc/sudoers.missing" in m for m in messages(result, "not_checked"))


# ---------------------------------------------------------------------------------------------
# SSH keys


def ssh_keygen_listing(path):
    """(bits, fingerprint, comment, type) per key, as ssh-keygen -lf prints them."""
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(path)], capture_output=True, text=True, check=True
    ).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"^(\d+) (SHA256:\S+) (.*) \((\w+)\)$", line)
        assert m, line
        rows.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
    return rows


KEY_FILES = sorted(SAMPLES.rglob("authorized_keys*"))


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen (openssh-client) needed")
@pytest.mark.parametrize("path", KEY_FILES, ids=lambda p: str(p.relative_to(SAMPLES)))
def test_fingerprints_and_sizes_match_ssh_keygen(path):
    keys, _invalid = ar.parse_authorized_keys(path.read_text())
    expected = ssh_keygen_listing(path)
    assert [(k["bits"], k["fingerprint"], k["comment"]) for k in keys] == [
        (bits, fp, comment) for bits, fp, comment, _type in expected
    ]
    type_names = {"ED25519": "ssh-ed25519", "RSA": "ssh-rsa", "DSA": "ssh-dss"}
    for key, (_bits, _fp, _comment, kind) in zip(keys, expected, strict=True):
        assert key["type"] == type_names.get(kind, key["type"])
        if kind == "ECDSA":
            assert key["type"].startswith("ecdsa-sha2-nistp")


def test_key_options_comments_and_invalid_lines(host):
    keys = {(k["user"], k["fingerprint"]): k for k in host["authorized_keys"]}
    intruder = keys[("bob", FP["intruder"])]
    assert intruder["file"] == "/home/bob/.ssh/authorized_keys2"
    assert intruder["options"] == [
        'from="203.0.113.0/24"',
        "no-agent-forwarding",
        'command="/usr/local/bin/rrsync -ro /srv"',
    ]
    assert intruder["comment"] == "intruder@evil"
    assert keys[("backup", FP["backup"])]["options"][0] == "no-pty"
    assert ("toor", FP["root"]) in keys  # toor shares /root
    assert any(
        "/home/deploy/.ssh/authorized_keys:3" in m for m in messages(host, "unparsed_key_lines")
    )


def test_unapproved_keys(host):
    found = by_id(host, "unapproved_key")
    assert len(found) == 1
    assert found[0]["severity"] == "high"
    assert "'bob'" in found[0]["message"] and FP["intruder"] in found[0]["message"]
    assert "intruder@evil" in found[0]["recommendation"]
    # users missing from approved_keys only count with strict_keys
    strict = collect(**{**HOST_BASELINE, "strict_keys": True})
    flagged = {
        (m.split("'")[1], re.search(r"SHA256:\S+", m).group(0))
        for m in messages(strict, "unapproved_key")
    }
    assert flagged == {
        ("bob", FP["intruder"]),
        ("backup", FP["backup"]),
        ("deploy", FP["deploy"]),
        ("deploy", FP["dsa"]),
        ("toor", FP["root"]),
    }
    assert by_id(collect(), "unapproved_key") == []  # no baseline, not strict


def test_weak_keys(host):
    weak = {(f["message"].split("'")[1], f["severity"]) for f in by_id(host, "weak_key")}
    assert weak == {("backup", "medium"), ("deploy", "medium")}
    assert any("1024-bit ssh-rsa" in m for m in messages(host, "weak_key"))
    assert any("ssh-dss" in m for m in messages(host, "weak_key"))
    by_fp = {k["fingerprint"]: k for k in host["authorized_keys"]}
    assert by_fp[FP["bob"]]["bits"] == 3072 and not by_fp[FP["bob"]]["weak"]
    assert by_fp[FP["deploy"]]["bits"] == 384 and not by_fp[FP["deploy"]]["weak"]


# ---------------------------------------------------------------------------------------------
# Last logins


def test_parse_lastlog():
    logins = ar.parse_lastlog((COMMANDS / "lastlog.txt").read_text())
    assert logins["root"]["port"] == "tty1" and logins["root"]["from"] == ""
    assert logins["alice"]["from"] == "192.0.2.10"
    assert logins["alice"]["latest"] == datetime.datetime(
        2026, 11, 21, 8, 14, 3, tzinfo=datetime.UTC
    )
    assert logins["bob"]["from"] == "bastion.example.org"
    assert logins["eve"]["never"] and logins["eve"]["latest"] is None
    assert "Username" not in logins


def test_stale_and_never_logged_in(host):
    stale = by_id(host, "stale_account")
    assert [(f["message"].split("'")[1], f["severity"]) for f in stale] == [("carol", "medium")]
    assert "120 days" in stale[0]["message"]
    never = {m.split("'")[1] for m in messages(host, "never_logged_in")}
    # eve: set up 500 days ago; backup: has a key and a shell. dave was set up 10 days ago,
    # postgres cannot log in, toor/root are UID 0.
    assert never == {"eve", "backup"}
    assert {f["severity"] for f in by_id(host, "never_logged_in")} == {"low"}
    assert by_id(collect(stale_days=200), "stale_account") == []
    last = {r["user"]: r for r in host["last_logins"]}
    assert last["carol"]["days_ago"] == 120 and last["carol"]["latest"].startswith("2026-07-26")


def test_missing_lastlog_degrades_to_info():
    result = collect(missing=("lastlog",), **HOST_BASELINE)
    assert result["last_logins"] == []
    assert by_id(result, "stale_account") == [] and by_id(result, "never_logged_in") == []
    assert any("lastlog" in f["message"] for f in by_id(result, "not_checked"))
    assert {f["severity"] for f in by_id(result, "not_checked")} == {"info"}


# ---------------------------------------------------------------------------------------------
# Listeners


def test_parse_ss(host):
    specs = {(item["spec"], item["process"], item["loopback"]) for item in host["listeners"]}
    assert ("tcp/0.0.0.0:22", "sshd", False) in specs
    assert ("tcp/[::]:22", "sshd", False) in specs
    assert ("tcp/[::1]:5432", "postgres", True) in specs
    assert ("tcp/0.0.0.0:2024", "", False) in specs  # no process shown
    assert ("udp/127.0.0.1:323", "chronyd", True) in specs
    assert ("udp/[::]:5353", "avahi-daemon", False) in specs
    assert len(host["listeners"]) == 13
    netid = ar.parse_ss('tcp LISTEN 0 4096 *:9100 *:* users:(("node_exporter",pid=9,fd=3))', "udp")
    assert netid[0]["spec"] == "tcp/*:9100" and netid[0]["process"] == "node_exporter"
    scoped = ar.parse_ss("UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:*", "udp")
    assert scoped[0]["address"] == "127.0.0.53" and scoped[0]["loopback"]


def test_proc_net_fallback_finds_the_same_sockets(host):
    result = collect(missing=("ss",), **HOST_BASELINE)
    assert sorted(i["spec"] for i in result["listeners"]) == sorted(
        i["spec"] for i in host["listeners"]
    )
    assert {i["process"] for i in result["listeners"]} == {""}
    assert any("/proc/net" in m for m in messages(result, "not_checked"))

    # the same unapproved listeners are found without ss
    def flagged(res):
        return sorted(
            (re.search(r"(tcp|udp)/\S+:\d+", f["message"]).group(0), f["severity"])
            for f in by_id(res, "unapproved_listener")
        )

    assert flagged(result) == flagged(host)


def test_no_ss_and_no_proc_is_reported(tmp_path):
    shutil.copytree(CLEAN, tmp_path / "tree")
    result = collect(tmp_path / "tree", missing=("ss",), **CLEAN_BASELINE)
    assert result["listeners"] == []
    assert any("listening ports" in m for m in messages(result, "not_checked"))


def test_unapproved_listeners(host):
    found = {
        re.search(r"(tcp|udp)/\S+:\d+", f["message"]).group(0): f["severity"]
        for f in by_id(host, "unapproved_listener")
    }
    assert found == {
        "tcp/0.0.0.0:3389": "high",
        "tcp/127.0.0.1:5900": "low",
        "udp/0.0.0.0:5353": "high",
        "udp/[::]:5353": "high",
    }
    xrdp = next(f for f in by_id(host, "unapproved_listener") if "3389" in f["message"])
    assert "remote-access path" in xrdp["message"] and "xrdp" in xrdp["message"]
    assert by_id(collect(), "unapproved_listener") == []  # no allowed list: not checked


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("tcp/22", ("tcp", None, 22)),
        ("22", ("tcp", None, 22)),
        ("udp/*:123", ("udp", None, 123)),
        ("tcp/127.0.0.1:5432", ("tcp", "127.0.0.1", 5432)),
        ("tcp6/[::1]:5432", ("tcp", "::1", 5432)),
        ("tcp/[0:0::1]:5432", ("tcp", "::1", 5432)),
    ],
)
def test_allowed_listener_entries(entry, parsed):
    assert ar.parse_allowed_listener(entry) == parsed


def test_invalid_allowed_listener_is_an_error():
    with pytest.raises(ValueError, match="tcp/ssh"):
        ar.parse_allowed_listener("tcp/ssh")


# ---------------------------------------------------------------------------------------------
# Clean baseline, snapshots, the whole result


def test_clean_baseline_has_no_findings():
    result = collect(CLEAN, **CLEAN_BASELINE)
    assert result["findings"] == []
    passwd_names = [line.split(":")[0] for line in (CLEAN / "etc/passwd").read_text().splitlines()]
    assert result["snapshot"]["users"] == sorted(passwd_names)
    assert result["snapshot"]["keys"] == {
        "alice": [FP["alice"]],
        "bob": [FP["bob"]],
        "deploy": [FP["deploy"]],
    }


def test_every_finding_has_the_contract_shape(host):
    severities = set(ar.SEVERITIES)
    strict = collect(**{**HOST_BASELINE, "strict_keys": True})
    for f in host["findings"] + strict["findings"]:
        assert set(f) == {"id", "severity", "message", "recommendation"}
        assert f["id"].startswith("access_review.")
        assert f["severity"] in severities
        assert f["message"] and f["recommendation"]
    ids = {f["id"].split(".", 1)[1] for f in host["findings"]}
    assert ids >= {
        "uid0",
        "empty_password",
        "password_age",
        "system_account_shell",
        "unapproved_user",
        "unapproved_admin",
        "nopasswd",
        "unapproved_key",
        "weak_key",
        "stale_account",
        "never_logged_in",
        "unapproved_listener",
    }
    json.dumps(host)  # the module returns it as JSON


def test_compare_snapshots_reports_what_appeared(host):
    before = collect(CLEAN, **CLEAN_BASELINE)["snapshot"]
    # both trees are read with the same ss output: take xrdp out, as before it was installed
    before["listeners"] = [spec for spec in before["listeners"] if not spec.endswith(":3389")]
    found = ar.compare_snapshots(before, host["snapshot"])
    assert {f["id"] for f in found} == {"access_review.appeared_during_window"}
    assert {f["severity"] for f in found} == {"high"}
    text = "\n".join(f["message"] for f in found)
    for expected in (
        "Account 'toor'",
        "Account 'dave'",
        "'eve' was added to the administrators group 'sudo'",
        "'carol' was added to the administrators group 'admin'",
        "carol, bob ALL=(ALL) NOPASSWD: ALL",
        f"SSH key {FP['intruder']} was added to account 'bob'",
        "tcp/0.0.0.0:3389",
    ):
        assert expected in text
    assert "Account 'alice'" not in text and FP["alice"] not in text
    assert "tcp/0.0.0.0:22 " not in text  # listening before and after
    assert ar.compare_snapshots(host["snapshot"], host["snapshot"]) == []
    # categories missing from an older snapshot are not compared
    partial = {"users": before["users"]}
    assert all("Account" in f["message"] for f in ar.compare_snapshots(partial, host["snapshot"]))


def test_compare_to_adds_appeared_findings(host):
    before = collect(CLEAN, **CLEAN_BASELINE)["snapshot"]
    result = collect(**HOST_BASELINE, compare_to=before)
    appeared = by_id(result, "appeared_during_window")
    assert appeared == ar.compare_snapshots(before, host["snapshot"])
    assert (
        by_id(collect(**HOST_BASELINE, compare_to=host["snapshot"]), "appeared_during_window") == []
    )


def test_collect_runs_only_read_only_commands():
    run = sample_commands()
    ar.collect(str(HOST), {}, run, now=NOW)
    assert run.calls == [["lastlog"], ["ss", "-H", "-tlnp"], ["ss", "-H", "-ulnp"]]


# ---------------------------------------------------------------------------------------------
# The Ansible module


@pytest.fixture(scope="module")
def collection_path(tmp_path_factory):
    """A tmp dir with ansible_collections/maint/preventive linked to this repository."""
    base = tmp_path_factory.mktemp("collections")
    (base / "ansible_collections" / "maint").mkdir(parents=True)
    os.symlink(REPO, base / "ansible_collections" / "maint" / "preventive")
    return base


def run_module(collection_path, tmp_path, args):
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=str(collection_path))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ansible_collections.maint.preventive.plugins.modules.access_review",
            str(args_file),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout)


def test_module_runs_read_only_in_check_mode(collection_path, tmp_path):
    rc, result = run_module(
        collection_path,
        tmp_path,
        {
            "root": str(HOST),
            "approved_keys": {"bob": FP["bob"]},
            "ignore_users": ["alice"],
            "_ansible_check_mode": True,
        },
    )
    assert rc == 0, result
    assert result["changed"] is False
    assert not result.get("failed")
    assert [m.split("'")[1] for m in messages(result, "unapproved_key")] == ["bob"]
    assert [m.split("'")[1] for m in messages(result, "uid0")] == ["toor"]
    assert result["ignore_users"] == ["alice"]
    assert "$6$" not in json.dumps(result)
    # lastlog and ss ran on this machine: present, or an info finding says why not
    assert set(result) >= {
        "accounts",
        "admin_members",
        "sudo_rules",
        "authorized_keys",
        "last_logins",
        "listeners",
        "findings",
        "snapshot",
        "ignore_users",
    }


def test_module_rejects_a_bad_listener_entry(collection_path, tmp_path):
    rc, result = run_module(
        collection_path, tmp_path, {"root": str(CLEAN), "allowed_listeners": ["tcp/ssh"]}
    )
    assert rc != 0 and result["failed"]
    assert "tcp/ssh" in result["msg"]


def _module_namespace(collection_path):
    sys.path.insert(0, str(collection_path))
    try:
        spec = importlib.util.spec_from_file_location("maint_access_review_module", MODULE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(collection_path))
    return module


def test_documentation_matches_argument_spec(collection_path):
    module = _module_namespace(collection_path)
    doc = yaml.safe_load(module.DOCUMENTATION)
    yaml.safe_load(module.EXAMPLES)
    returns = yaml.safe_load(module.RETURN)
    options = doc["options"]
    assert set(options) == set(module.ARGUMENT_SPEC)
    for name, spec in module.ARGUMENT_SPEC.items():
        documented = options[name]
        assert documented.get("type", "str") == spec.get("type", "str"), name
        assert documented.get("elements") == spec.get("elements"), name
        assert documented.get("default") == spec.get("default"), name
        assert documented.get("required", False) == spec.get("required", False), name
    result = collect(**HOST_BASELINE)
    assert set(returns) == set(result)
    # every finding id the module can return is documented
    documented_ids = set(re.findall(r"access_review\.\w+", returns["findings"]["description"][0]))
    strict = collect(**{**HOST_BASELINE, "strict_keys": True}, missing=("lastlog",))
    produced = {f["id"] for f in result["findings"] + strict["findings"]}
    produced |= {"access_review.appeared_during_window"}
    assert produced <= documented_ids


# ---------------------------------------------------------------------------------------------
# Remediation targets


def test_remediation_targets_match_the_findings(host):
    targets = host["remediation"]
    assert targets["lock_accounts"] == ["carol"]  # the stale_account finding
    removals = {(k["user"], k["fingerprint"]) for k in targets["remove_keys"]}
    assert removals == {("bob", FP["intruder"])}  # the unapproved_key finding
    (key,) = targets["remove_keys"]
    # the key text is exactly what authorized_keys holds, so removal can match it
    text = (HOST / key["file"].lstrip("/")).read_text()
    assert key["key"] in text
    assert key["key"].split()[0].startswith(("ssh-", "ecdsa-"))


def test_remediation_never_targets_ignored_accounts():
    targets = collect(**{**HOST_BASELINE, "ignore_users": ["carol", "bob"]})["remediation"]
    assert targets == {"lock_accounts": [], "remove_keys": []}


def test_an_expired_account_is_neither_stale_nor_a_remediation_target(tmp_path):
    # The same host, with carol's account expired (shadow field 8) as remediation leaves it.
    tree = tmp_path / "host"
    shutil.copytree(HOST, tree, symlinks=True)
    shadow = tree / "etc" / "shadow"
    lines = []
    for line in shadow.read_text().splitlines():
        if line.startswith("carol:"):
            fields = line.split(":")
            fields[7] = "1"
            line = ":".join(fields)
        lines.append(line)
    shadow.write_text("\n".join(lines) + "\n")
    result = collect(root=tree, **HOST_BASELINE)
    carol = next(a for a in result["accounts"] if a["name"] == "carol")
    assert carol["expired"] is True
    assert by_id(result, "stale_account") == []
    assert result["remediation"]["lock_accounts"] == []
