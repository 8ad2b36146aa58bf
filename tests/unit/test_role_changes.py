"""data.changes of antivirus and access_review, maint_skip_controls, and apt's simulation of
one package's install (what it pulls) and of a purge."""

from tests.conftest import load_plugin

av = load_plugin("plugins/filter/antivirus.py", "maint_antivirus_filter_changes")
ar = load_plugin("plugins/filter/access_review.py", "maint_access_review_filter_changes")
ch = load_plugin("plugins/module_utils/changes.py", "maint_changes_skip")
sim = load_plugin("plugins/module_utils/apt_sim.py", "maint_apt_sim_plan")

CONF = "DatabaseMirror db.local.clamav.net\n#PrivateMirror mirror1.example.com\n"


def test_skip_controls_per_host():
    skip = {"web1": ["AV-02", "SSH-01"], "web2": ["AR-05"]}
    assert ch.skip_controls(skip, "web1") == ["AV-02", "SSH-01"]
    assert ch.skip_controls(skip, "web1", ["AV-01", "AV-02"]) == ["AV-02"]
    assert ch.skip_controls(None, "web1") == []
    assert ch.skip_controls(["AR-05"], "any", ["AR-05"]) == ["AR-05"]
    assert av.antivirus_skip(skip, "web1") == ["AV-02"]


def test_mirror_text_like_lineinfile():
    assert av.antivirus_mirror_text(CONF, "https://m") == (
        "DatabaseMirror db.local.clamav.net\nPrivateMirror https://m\n"
    )
    assert av.antivirus_mirror_text("X 1\n", "https://m") == "X 1\nPrivateMirror https://m\n"


def test_antivirus_plan_lists_the_install_the_conf_diff_and_the_moves():
    apt = {
        "install": {
            "clamav": {
                "version": "1.4.6",
                "pulls": ["libclamav12 1.4.6"],
                "would_fail": None,
            },
            "clamav-daemon": {"would_fail": "apt cannot install clamav-daemon: no"},
        }
    }
    changes = av.antivirus_changes(
        True,
        apt=apt,
        missing=["clamav", "clamav-daemon"],
        conf_path="/etc/clamav/freshclam.conf",
        conf_text=CONF,
        mirror="https://m",
        scan={"infected": [{"path": "/srv/x/eicar.com"}]},
        quarantine=True,
        quarantine_dir="/var/lib/maint/quarantine",
    )
    assert [(c["control"], c["kind"], c["target"], c["action"]) for c in changes] == [
        ("AV-01", "package", "clamav", "install"),
        ("AV-01", "package", "clamav-daemon", "install"),
        ("AV-02", "file", "/etc/clamav/freshclam.conf", "modify"),
        ("AV-05", "file", "/srv/x/eicar.com", "remove"),
    ]
    assert changes[0]["pulls"] == ["libclamav12 1.4.6"] and changes[0]["after"] == "1.4.6"
    assert changes[1]["would_fail"].startswith("apt cannot install")
    assert "+PrivateMirror https://m\n" in changes[2]["diff"]
    # skipped controls are not listed; after an apply only what changed
    assert av.antivirus_changes(True, apt=apt, missing=["clamav"], skip=["AV-01"]) == []
    applied = av.antivirus_changes(
        False,
        missing=["clamav"],
        installed=False,
        conf_text=CONF,
        mirror="https://m",
        mirror_changed=False,
        update={"changed": True, "database_dir": "/var/lib/clamav"},
    )
    assert [(c["control"], c["target"]) for c in applied] == [("AV-03", "/var/lib/clamav")]


ACCOUNTS = [{"name": "carol", "expire": 47481}, {"name": "dave", "expire": None}]
REMEDIATION = {
    "lock_accounts": ["carol", "dave"],
    "remove_keys": [
        {
            "user": "bob",
            "file": "/home/bob/.ssh/authorized_keys",
            "fingerprint": "SHA256:abc",
            "key": "ssh-ed25519 AAAA bob@lab",
        }
    ],
}


def test_access_review_changes_and_expiry_rollback():
    changes = ar.access_review_changes(REMEDIATION, ACCOUNTS)
    assert [(c["kind"], c["target"], c["action"], c["before"]) for c in changes] == [
        ("key", "/home/bob/.ssh/authorized_keys", "remove", "ssh-ed25519 SHA256:abc bob@lab"),
        ("account", "carol", "expire", "expires 2099-12-31"),
        ("account", "dave", "expire", "expires never"),
    ]
    done = {"keys": [], "accounts": ["carol"]}
    assert [c["target"] for c in ar.access_review_changes(REMEDIATION, ACCOUNTS, done=done)] == [
        "carol"
    ]
    assert ar.access_review_changes(REMEDIATION, ACCOUNTS, skip=["AR-05"]) == []
    assert ar.access_review_expiry(ACCOUNTS, ["carol", "dave"]) == {"carol": 47481, "dave": None}
    assert ar.access_review_restore_expiry(None) == -1
    assert ar.access_review_restore_expiry(47481) == 47481 * 86400


INSTALL_NEEDRESTART = """Reading package lists...
Inst liblzma5 [5.4.1-1+deb12u1] (5.4.1-1+deb12u2 Debian-Security:12/oldstable-security [amd64])
Inst xz-utils (5.4.1-1+deb12u2 Debian-Security:12/oldstable-security [amd64])
Inst needrestart (3.6-4+deb12u4 Debian-Security:12/oldstable-security [all])
Conf needrestart (3.6-4+deb12u4 Debian-Security:12/oldstable-security [all])
"""


def test_install_plan_names_what_a_package_pulls():
    plan = sim.install_plan(sim.parse_simulation(INSTALL_NEEDRESTART), "needrestart")
    assert plan == {
        "name": "needrestart",
        "version": "3.6-4+deb12u4",
        "current": None,
        "action": "install",
        "pulls": ["liblzma5 5.4.1-1+deb12u2", "xz-utils 5.4.1-1+deb12u2"],
        "removes": [],
    }


def test_a_purge_simulation_is_parsed():
    parsed = sim.parse_simulation("Purg telnetd [0.17-44]\nRemv openbsd-inetd [0.2]\n")
    assert [(p["name"], p["action"], p["current"]) for p in parsed] == [
        ("telnetd", "purge", "0.17-44"),
        ("openbsd-inetd", "remove", "0.2"),
    ]


ap = load_plugin("plugins/modules/apt_pending.py", "maint_apt_pending_module")

OK_LINE = "Inst {name} [{cur}] ({new} Debian:12/stable [all])"


class FakeApt:
    """apt-get -s answers by the pins asked: a broken one fails whenever it is asked."""

    def __init__(self, broken=()):
        self.broken = set(broken)
        self.asked = []

    def simulate(self, args):
        self.asked.append(args)
        pins = [a for a in args if "=" in a]
        if any(p.split("=")[0] in self.broken for p in pins):
            return 100, "", "Depends: libgone but it is not installable"
        lines = [OK_LINE.format(name=p.split("=")[0], cur="1.0", new=p.split("=")[1]) for p in pins]
        if "agent=1.1" in pins:
            lines.append("Inst agent-data (1.0 Debian:12/stable [all])")
        return 0, "\n".join(lines), ""


class FakeModule:
    def fail_json(self, **kw):
        raise AssertionError(kw)


def _pkg(name, cur="1.0", new="1.1"):
    return {"name": name, "current": cur, "candidate": new, "action": "upgrade"}


def test_an_update_apt_cannot_install_is_set_aside_with_the_reason():
    planner = ap.Planner(FakeModule(), FakeApt(broken=["tools"]), ())
    transaction = planner.install([_pkg("fixture"), _pkg("tools"), _pkg("agent")])
    assert [p["name"] for p in transaction] == ["fixture", "agent", "agent-data"]
    assert planner.would_fail["tools"].startswith("apt cannot install tools 1.1: Depends")
    chosen = {"fixture", "agent", "tools"}
    pulls = planner.pulls(transaction, chosen)
    assert pulls == {"fixture": [], "agent": ["agent-data 1.0"]}
    changes = sim.update_changes(
        "PATCH-04", transaction, chosen, pulls, list(planner.failed.values()), planner.would_fail
    )
    assert [
        (c["target"], c["action"], c["after"], c["pulls"], bool(c["would_fail"])) for c in changes
    ] == [
        ("fixture", "upgrade", "1.1", [], False),
        ("agent", "upgrade", "1.1", ["agent-data 1.0"], False),
        ("tools", "upgrade", "1.1", [], True),
    ]


def test_update_changes_list_removals_and_unexplained_pulls():
    transaction = [
        {"name": "a", "current": "1", "candidate": "2", "action": "upgrade"},
        {"name": "old", "current": "3", "candidate": None, "action": "remove"},
        {"name": "dep", "current": None, "candidate": "1", "action": "install"},
    ]
    changes = sim.update_changes("PATCH-04", transaction, {"a"}, {})
    assert [(c["target"], c["action"], c.get("note", "")) for c in changes] == [
        ("a", "upgrade", ""),
        ("old", "remove", "apt removes it to apply the updates"),
        ("dep", "install", "pulled in by the updates"),
    ]


pf = load_plugin("plugins/filter/patching.py", "maint_patching_filter_changes")


def test_patching_skipped_names_why_each_update_is_left_out():
    selected = [
        {"name": "fixture", "action": "upgrade"},
        {"name": "dep", "action": "install"},
        {"name": "gone", "action": "remove"},
    ]
    assert pf.patching_skipped({"lib": "held"}, selected, {"tools": "apt cannot install"}) == {
        "lib": "held",
        "tools": "apt cannot install",
    }
    skipped = pf.patching_skipped({}, selected, {}, skip=True)
    assert skipped == {"fixture": pf.SKIPPED_BY_RUNNER, "dep": pf.SKIPPED_BY_RUNNER}


def test_patching_changes_of_dnf_and_windows():
    rpm = [{"name": "openssl", "current": "3.0.1-1", "candidate": "3.0.7-1", "action": "upgrade"}]
    (entry,) = pf.patching_changes(rpm)
    assert (entry["target"], entry["before"], entry["after"]) == ("openssl", "3.0.1-1", "3.0.7-1")
    updates = {"u1": {"title": "2026-11 Cumulative Update", "kb": ["5034441"]}}
    (win,) = pf.patching_windows_changes(updates)
    assert (win["control"], win["target"], win["action"]) == ("PATCH-W02", "KB5034441", "install")


bv = load_plugin("plugins/modules/backup_verify.py", "maint_backup_verify_module_private")


def test_borg_gets_a_private_copy_of_its_state(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".config" / "borg" / "security" / "abc").mkdir(parents=True)
    (home / ".config" / "borg" / "security" / "abc" / "location").write_text("/srv/borg\n")
    monkeypatch.delenv("BORG_CONFIG_DIR", raising=False)
    monkeypatch.delenv("BORG_CACHE_DIR", raising=False)
    state = tmp_path / "state"
    state.mkdir()
    env = bv.private_borg_env(str(state), home=str(home))
    assert env == {"BORG_CONFIG_DIR": str(state / "config"), "BORG_CACHE_DIR": str(state / "cache")}
    assert (state / "config" / "security" / "abc" / "location").read_text() == "/srv/borg\n"
    assert (state / "cache").is_dir()
