"""Where the effective sysctl, sudoers, PAM and pwquality settings come from
(plugins/module_utils/effective.py)."""

from tests.conftest import load_plugin

ef = load_plugin("plugins/module_utils/effective.py", "maint_effective")


def fs(files, links=None):
    def read(path):
        return files.get((links or {}).get(path, path))

    def listdir(directory):
        prefix = directory.rstrip("/") + "/"
        return sorted(
            p[len(prefix) :]
            for p in list(files) + list(links or {})
            if p.startswith(prefix) and "/" not in p[len(prefix) :]
        )

    return read, listdir


def test_sysctl_files_order_and_precedence():
    files = {
        "/usr/lib/sysctl.d/50-default.conf": "",
        "/usr/lib/sysctl.d/99-protect-links.conf": "",
        "/etc/sysctl.d/50-default.conf": "",
        "/etc/sysctl.d/99-maint-hardening.conf": "",
        "/etc/sysctl.conf": "",
    }
    links = {"/etc/sysctl.d/99-sysctl.conf": "/etc/sysctl.conf"}
    _, listdir = fs(files, links)
    order = ef.sysctl_files(listdir, realpath=lambda p: links.get(p, p))
    # the /etc file hides the vendor file of the same name; sysctl.conf comes through its link
    assert order == [
        "/etc/sysctl.d/50-default.conf",
        "/etc/sysctl.d/99-maint-hardening.conf",
        "/usr/lib/sysctl.d/99-protect-links.conf",
        "/etc/sysctl.d/99-sysctl.conf",
    ]
    assert ef.sysctl_files(lambda d: [], realpath=lambda p: p) == ["/etc/sysctl.conf"]


def test_sysctl_last_assignment_wins():
    files = {
        "/etc/sysctl.d/10-a.conf": "# c\nkernel.sysrq = 1\n-net/ipv4/ip_forward=1\n",
        "/etc/sysctl.d/99-b.conf": "; c\nkernel.sysrq=0\n",
    }
    read, _ = fs(files)
    assignments = ef.sysctl_assignments(read, sorted(files))
    winner, overridden = ef.sysctl_persisted(assignments, "kernel.sysrq")
    assert (winner["path"], winner["line"], winner["value"]) == ("/etc/sysctl.d/99-b.conf", 2, "0")
    assert [(o["path"], o["value"]) for o in overridden] == [("/etc/sysctl.d/10-a.conf", "1")]
    winner, _ = ef.sysctl_persisted(assignments, "net.ipv4.ip_forward")
    assert winner["value"] == "1"
    assert ef.sysctl_persisted(assignments, "kernel.kptr_restrict") == (None, [])


def test_sudoers_tree_in_sudo_order():
    files = {
        "/etc/sudoers": (
            "Defaults env_reset\n@include /etc/sudoers.local\n#includedir /etc/sudoers.d\n"
        ),
        "/etc/sudoers.local": "@include extra\n",
        "/etc/extra": "x ALL=(ALL) ALL\n",
        "/etc/sudoers.d/10-ops": "",
        "/etc/sudoers.d/README": "",
        "/etc/sudoers.d/old.conf": "",
        "/etc/sudoers.d/10-ops~": "",
    }
    read, listdir = fs(files)
    tree = ef.sudoers_tree(read, listdir)
    assert [(n["path"], n["kind"], n["via"]) for n in tree] == [
        ("/etc/sudoers", "file", ""),
        ("/etc/sudoers.local", "file", "/etc/sudoers:2"),
        ("/etc/extra", "file", "/etc/sudoers.local:1"),
        ("/etc/sudoers.d", "dir", "/etc/sudoers:3"),
        ("/etc/sudoers.d/10-ops", "file", "/etc/sudoers:3"),
        ("/etc/sudoers.d/README", "file", "/etc/sudoers:3"),
    ]


PASSWD = "#%PAM-1.0\n\n@include common-password\n"
COMMON_PASSWORD = (
    "password\trequisite\t\t\tpam_pwquality.so retry=3 minlen=8\n"
    "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok \\\n"
    "  yescrypt\n"
    "password\trequisite\t\t\tpam_deny.so\n"
)


def test_pam_stack_follows_includes():
    files = {
        "/etc/pam.d/passwd": PASSWD,
        "/etc/pam.d/common-password": COMMON_PASSWORD,
        "/etc/pam.d/sshd": "session include common-session\nauth required pam_env.so\n",
        "/etc/pam.d/common-session": "session optional pam_tmpdir.so\n-session optional pam_x.so\n",
    }
    read, _ = fs(files)
    stack = ef.pam_stack(read, "passwd", "password")
    assert [e["module"] for e in stack] == ["pam_pwquality.so", "pam_unix.so", "pam_deny.so"]
    assert stack[1]["control"] == "[success=1 default=ignore]"
    assert stack[1]["args"] == ["obscure", "use_authtok", "yescrypt"]
    entry = ef.pam_module_in(stack, "pam_pwquality.so")
    assert entry["source"] == "/etc/pam.d/common-password:1"
    session = ef.pam_stack(read, "sshd", "session")
    assert [e["module"] for e in session] == ["pam_tmpdir.so", "pam_x.so"]
    assert ef.pam_module_in(ef.pam_stack(read, "missing", "session"), "pam_tmpdir.so") is None


def test_pwquality_settings_files_then_module_arguments():
    files = {
        "/etc/security/pwquality.conf": "# minlen = 9\nminlen = 14\nminclass=3\n",
        "/etc/security/pwquality.conf.d/50-site.conf": "minclass = 4\n",
    }
    read, listdir = fs(files)
    settings = ef.pwquality_settings(
        read, listdir, args=["retry=3", "minlen=8"], args_source="/etc/pam.d/common-password:1"
    )
    assert settings["minlen"] == {"value": "8", "source": "/etc/pam.d/common-password:1"}
    assert settings["minclass"] == {
        "value": "4",
        "source": "/etc/security/pwquality.conf.d/50-site.conf:1",
    }
    assert settings["retry"]["value"] == "3"
