#!/usr/bin/env python3
"""Print a JSON snapshot of a lab host for the Molecule verifiers (run on the host, read-only).

``packages``: name -> "version status" of every package dpkg knows (``dpkg-query -W``);
``selections``: ``dpkg --get-selections``; ``files``: path -> "type mode uid gid sha256" (or a
link's target) of everything under /etc, /var/lib, /var/log, /root and /home, and of the files
the compiler commands resolve to; ``texts``: the
content of the configuration files the roles manage (for comparing a plan's diffs with what an
apply changed); ``owners``: path -> package of what packages ship under /etc. The verifiers
compare two snapshots (molecule/shared/testinfra_helpers.py): check mode leaves the host
unchanged, a rollback restores what the apply changed.
"""

import hashlib
import json
import os
import stat
import subprocess

ROOTS = ("/etc", "/var/lib", "/var/log", "/root", "/home")
TEXTS = (
    "/etc/ssh/",
    "/etc/sysctl.d/",
    "/etc/sysctl.conf",
    "/etc/login.defs",
    "/etc/issue",
    "/etc/security/",
    "/etc/modprobe.d/",
    "/etc/pam.d/",
    "/etc/needrestart/",
    "/etc/passwd",
    "/etc/group",
    "/etc/aide/aide.conf",
    "/etc/audit/rules.d/",
    "/etc/fail2ban/jail.local",
    "/etc/fail2ban/jail.d/",
    "/etc/default/sysstat",
    "/etc/apt/apt.conf.d/",
    "/etc/profile.d/",
    "/etc/systemd/coredump.conf.d/",
    "/etc/clamav/",
    "/etc/sudoers",
    "/root/.ssh/",
    "/home/",
)


def describe(path):
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return f"l {os.readlink(path)}"
    if stat.S_ISDIR(st.st_mode):
        return f"d {mode:04o} {st.st_uid} {st.st_gid}"
    if stat.S_ISREG(st.st_mode):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return f"f {mode:04o} {st.st_uid} {st.st_gid} {digest.hexdigest()}"
    return f"o {mode:04o} {st.st_uid} {st.st_gid}"


# Commands whose real files a role changes outside ROOTS (the hardening role's CC-01 makes the
# compilers root-only): each is described at the file its /usr/bin name resolves to.
COMMANDS = ("as", "ld", "cc", "gcc", "c++", "g++", "clang")


def walk():
    files, texts = {}, {}
    for name in COMMANDS:
        path = os.path.realpath(os.path.join("/usr/bin", name))
        if os.path.exists(path):
            files[path] = describe(path)
    for root in ROOTS:
        for folder, dirs, names in os.walk(root):
            for name in dirs + names:
                path = os.path.join(folder, name)
                try:
                    files[path] = describe(path)
                except OSError:
                    continue
                if files[path].startswith("f ") and path.startswith(TEXTS):
                    try:
                        with open(path, encoding="utf-8") as handle:
                            texts[path] = handle.read(262144)
                    except (OSError, UnicodeDecodeError):
                        pass
    return files, texts


def owners(under="/etc/"):
    """path -> package of every path under /etc a package ships (dpkg's file lists)."""
    found = {}
    info = "/var/lib/dpkg/info"
    for name in sorted(os.listdir(info)):
        if not name.endswith(".list"):
            continue
        package = name[: -len(".list")].split(":")[0]
        with open(os.path.join(info, name), errors="replace") as handle:
            for line in handle:
                path = line.rstrip("\n")
                if path.startswith(under):
                    found[path] = package
    return found


def main():
    query = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    packages = {}
    for line in query.splitlines():
        name, version, status = [*line.split("\t"), "", ""][:3]
        packages[name] = f"{version} {status.strip()}"
    selections = subprocess.run(
        ["dpkg", "--get-selections"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    files, texts = walk()
    print(
        json.dumps(
            {
                "packages": packages,
                "selections": selections,
                "files": files,
                "texts": texts,
                "owners": owners(),
            }
        )
    )


if __name__ == "__main__":
    main()
