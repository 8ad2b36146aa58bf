"""sshd's Include chain in its own order, Match blocks, which line sets a value, and the fix
plan of maint.preventive.hardening_sshd (plugins/module_utils/sshd_config.py)."""

import pytest

from tests.conftest import load_plugin

sc = load_plugin("plugins/module_utils/sshd_config.py", "maint_sshd_config")
hs = load_plugin("plugins/modules/hardening_sshd.py", "maint_hardening_sshd_module")

DROPIN = "/etc/ssh/sshd_config.d/00-maint-hardening.conf"
MAIN = """# Debian's sshd_config
Include /etc/ssh/sshd_config.d/*.conf
PermitRootLogin prohibit-password
X11Forwarding yes
Match User backup
    PasswordAuthentication yes
"""


def fs(files):
    """read and listdir over a dict {path: text}."""

    def read(path):
        return files.get(path)

    def listdir(directory):
        prefix = directory.rstrip("/") + "/"
        return sorted(
            p[len(prefix) :] for p in files if p.startswith(prefix) and "/" not in p[len(prefix) :]
        )

    return read, listdir


def chain(files):
    read, listdir = fs(files)
    return sc.read_chain(read, listdir)


def test_split_line_forms():
    assert sc.split_line("  PermitRootLogin   no") == ("PermitRootLogin", ["no"])
    assert sc.split_line("MaxAuthTries=3") == ("MaxAuthTries", ["3"])
    assert sc.split_line('Banner "/etc/issue net"') == ("Banner", ["/etc/issue net"])
    assert sc.split_line("# comment") is None
    assert sc.split_line("   ") is None


def test_chain_reads_includes_in_sorted_order_with_line_numbers():
    lines = chain(
        {
            sc.MAIN: MAIN,
            "/etc/ssh/sshd_config.d/50-cloud.conf": "PermitRootLogin yes\n",
            "/etc/ssh/sshd_config.d/00-early.conf": "\nMaxAuthTries 2\n",
            "/etc/ssh/sshd_config.d/README": "not a .conf\n",
        }
    )
    order = [(e["key"], e["path"].rsplit("/", 1)[-1], e["line"]) for e in lines]
    assert order == [
        ("include", "sshd_config", 2),
        ("maxauthtries", "00-early.conf", 2),
        ("permitrootlogin", "50-cloud.conf", 1),
        ("permitrootlogin", "sshd_config", 3),
        ("x11forwarding", "sshd_config", 4),
        ("passwordauthentication", "sshd_config", 6),
    ]
    assert lines[-1]["match"] == "User backup"
    assert sc.chain_files(lines) == [
        sc.MAIN,
        "/etc/ssh/sshd_config.d/00-early.conf",
        "/etc/ssh/sshd_config.d/50-cloud.conf",
    ]


def test_a_match_block_ends_with_its_included_file():
    lines = chain(
        {
            sc.MAIN: "Include /etc/ssh/sshd_config.d/*.conf\nMaxSessions 4\n",
            "/etc/ssh/sshd_config.d/05-m.conf": "Match User bob\n  MaxAuthTries 9\n",
            "/etc/ssh/sshd_config.d/07-g.conf": "MaxAuthTries 4\n",
        }
    )
    by = {(e["key"], e["path"].rsplit("/", 1)[-1]): e["match"] for e in lines}
    assert by[("maxauthtries", "05-m.conf")] == "User bob"
    assert by[("maxauthtries", "07-g.conf")] is None
    assert by[("maxsessions", "sshd_config")] is None


@pytest.mark.parametrize(
    "criteria,applies",
    [
        ("User maint", True),
        ("User bob,maint", True),
        ("User m*", True),
        ("User *,!maint", False),
        ("User bob", False),
        ("Group sudo", True),
        ("Address 10.0.0.0/8", True),
        ("Address 192.168.*", False),
        ("User maint Address 192.168.0.0/16", False),
        ("Host *.example.org", False),
        ("LocalPort 22", False),
        ("All", True),
        ("", False),
    ],
)
def test_match_criteria(criteria, applies):
    spec = {"user": "maint", "host": "10.1.2.3", "addr": "10.1.2.3", "groups": ["sudo", "maint"]}
    assert sc.match_applies(criteria, spec) is applies


def test_normalize_times_aliases_and_lists():
    assert sc.normalize("LoginGraceTime", "2m") == "120"
    assert sc.normalize("ClientAliveInterval", "1h30m") == "5400"
    assert sc.normalize("PermitRootLogin", "without-password") == "prohibit-password"
    assert sc.normalize("Ciphers", "A, b") == "a,b"
    assert sc.seconds("abc") is None


SPEC = {"user": "maint", "host": "127.0.0.1", "addr": "127.0.0.1", "groups": []}


def test_first_value_wins_and_an_earlier_drop_in_beats_the_role():
    lines = chain(
        {
            sc.MAIN: MAIN,
            "/etc/ssh/sshd_config.d/00-cloud.conf": "PermitRootLogin yes\n",
            DROPIN: "PermitRootLogin no\n",
        }
    )
    winner = sc.attribute(lines, "PermitRootLogin", SPEC, "yes")
    assert sc.source(winner) == "/etc/ssh/sshd_config.d/00-cloud.conf:1"
    overridden = [sc.source(e) for e in sc.others(lines, "PermitRootLogin", winner)]
    assert overridden == [DROPIN + ":1", "/etc/ssh/sshd_config:3"]


def test_a_matching_match_block_overrides_the_global_value():
    lines = chain({sc.MAIN: MAIN})
    backup = dict(SPEC, user="backup")
    assert sc.resolve(lines, "PasswordAuthentication", backup)["line"] == 6
    assert sc.resolve(lines, "PasswordAuthentication", SPEC) is None
    # sshd -T printed the default: no line explains it
    assert sc.attribute(lines, "PasswordAuthentication", SPEC, "yes") is None


def test_attribution_follows_what_sshd_printed():
    lines = chain({sc.MAIN: "MaxAuthTries 4\nMatch LocalPort 2222\n  MaxAuthTries 9\n"})
    # sshd -T says 9: the Match block applied although our spec did not say so
    assert sc.attribute(lines, "MaxAuthTries", SPEC, "9")["line"] == 3
    assert sc.attribute(lines, "MaxAuthTries", SPEC, "4")["line"] == 1


def test_set_first_and_set_line():
    text = "# header\nMaxAuthTries 6\nMatch User x\n  MaxAuthTries 9\n"
    assert sc.set_first(text, "MaxAuthTries", "3") == (
        "# header\nMaxAuthTries 3\nMatch User x\n  MaxAuthTries 9\n"
    )
    assert sc.set_first("Match User x\n  X 1\n", "PermitRootLogin", "no") == (
        "PermitRootLogin no\nMatch User x\n  X 1\n"
    )
    assert sc.set_first(None, "Banner", "/etc/issue.net") == "Banner /etc/issue.net\n"
    assert sc.set_line(text, 4, "MaxAuthTries", "3").splitlines()[3] == "  MaxAuthTries 3"
    with pytest.raises(ValueError, match="does not set"):
        sc.set_line(text, 1, "MaxAuthTries", "3")


def test_candidate_tree_points_includes_at_the_copies():
    read, listdir = fs({sc.MAIN: MAIN, "/etc/ssh/sshd_config.d/50-cloud.conf": "X 1\n"})
    overlay = {DROPIN: "PermitRootLogin no\n"}
    names = {}

    def tmp_name(path):
        return names.setdefault(path, f"/tmp/t/{len(names)}")

    files = sc.candidate_tree(read, listdir, overlay, tmp_name)
    assert files["/tmp/t/0"].splitlines()[1] == "Include /tmp/t/1 /tmp/t/2"
    assert files["/tmp/t/1"] == "PermitRootLogin no\n"
    assert files["/tmp/t/2"] == "X 1\n"
    # an Include that matches nothing is kept out (commented)
    read, listdir = fs({sc.MAIN: MAIN})
    files = sc.candidate_tree(read, listdir, {}, lambda p: "/tmp/u" + p)
    assert "# Include /etc/ssh/sshd_config.d/*.conf" in files["/tmp/u/etc/ssh/sshd_config"]


def _plan(files, key, wanted):
    read, listdir = fs(files)
    item = {"key": key, "wanted": wanted}
    return hs._plan_item(item, {}, read, listdir, sc.MAIN, DROPIN, SPEC)


def test_plan_fixes_in_the_drop_in_when_it_wins():
    overlay, reason = _plan(
        {sc.MAIN: MAIN, "/etc/ssh/sshd_config.d/50-legacy.conf": "MaxAuthTries 10\n"},
        "MaxAuthTries",
        "3",
    )
    assert reason == ""
    assert overlay == {DROPIN: hs.DROPIN_HEADER + "MaxAuthTries 3\n"}


def test_plan_fixes_the_winning_line_when_the_drop_in_loses():
    files = {
        sc.MAIN: MAIN,
        "/etc/ssh/sshd_config.d/00-cloud.conf": "PermitRootLogin yes\n",
        DROPIN: "PermitRootLogin no\n",
    }
    overlay, reason = _plan(files, "PermitRootLogin", "no")
    assert reason == ""
    assert overlay == {"/etc/ssh/sshd_config.d/00-cloud.conf": "PermitRootLogin no\n"}


def test_plan_says_why_when_the_drop_in_is_not_read():
    overlay, reason = _plan({sc.MAIN: "Port 22\n"}, "Banner", "/etc/issue.net")
    assert overlay == {}
    assert "is not read by sshd" in reason
