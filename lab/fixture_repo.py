#!/usr/bin/env python3
"""Build the local apt repository fixture for patching tests, with dpkg-deb.

Two flat repositories are written under OUT:

* ``OUT/main``: ``maint-fixture`` 1.0 and 1.1: a script, a conffile, an init script and a tiny
  daemon; 1.1 flags a pending reboot the way kernel packages do.
* ``OUT/security``: ``maint-fixture-tools`` 1.0 and 1.1, published with a Debian-Security
  origin so security-only patching has something to choose.

Patch baseline tests (docs/roles/patching.md) need one update of each kind; these packages
are in the repositories but no lab host has them until a test installs their 1.0:

* ``OUT/main`` (bugfix updates): ``maint-fixture-lib`` (a package to hold),
  ``maint-fixture-doc`` (a package to reject by pattern) and ``linux-image-maint-fixture`` (a
  kernel package by its name), each at every version;
* ``OUT/security``: ``maint-fixture-agent`` at every version (from 1.1 on it depends on
  ``maint-fixture-agent-data``, so the transaction of installing it pulls a new package) and
  ``maint-fixture-agent-data`` 1.0.

Lab hosts use them as ``deb [trusted=yes] file:/srv/maint-fixture/main ./`` (and security).
``--versions 1.1`` rebuilds the indexes without 1.0, to prove that rollback does not depend
on the repository still holding the old version. Output is deterministic for a given input.

Usage: fixture_repo.py OUT [--versions 1.0,1.1]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EPOCH = 1767225600  # 2026-01-01T00:00:00Z: fixed timestamps make rebuilds byte-identical

INIT_SCRIPT = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          maint-fixture
# Required-Start:    $local_fs
# Required-Stop:     $local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: maint fixture daemon
### END INIT INFO
PIDFILE=/run/maint-fixture.pid
DAEMON=/usr/bin/maint-fixture
case "$1" in
  start)
    start-stop-daemon --start --quiet --background --make-pidfile --pidfile $PIDFILE \\
      --exec $DAEMON -- daemon ;;
  stop)
    start-stop-daemon --stop --quiet --oknodo --remove-pidfile --pidfile $PIDFILE ;;
  restart|force-reload)
    "$0" stop; "$0" start ;;
  status)
    if start-stop-daemon --status --pidfile $PIDFILE; then
      echo "maint-fixture is running"; exit 0
    fi
    echo "maint-fixture is not running"; exit 3 ;;
  *) echo "Usage: $0 {start|stop|restart|status}" >&2; exit 2 ;;
esac
"""

FIXTURE_SCRIPT = """#!/bin/sh
# maint-fixture {version}: a stand-in for a real package in patching tests.
CONF=/etc/maint-fixture.conf
case "$1" in
  --version) echo "maint-fixture {version}" ;;
  check) grep -q '^healthy=yes' "$CONF" ;;
  daemon) while :; do sleep 3600; done ;;
  *) echo "maint-fixture {version}: usage: maint-fixture --version|check|daemon" >&2; exit 2 ;;
esac
"""

POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ] && /etc/init.d/maint-fixture status >/dev/null 2>&1; then
  /etc/init.d/maint-fixture restart >/dev/null
fi
{reboot}
exit 0
"""

REBOOT_FLAG = """if [ "$1" = configure ]; then
  touch /run/reboot-required
  grep -qx maint-fixture /run/reboot-required.pkgs 2>/dev/null \\
    || echo maint-fixture >>/run/reboot-required.pkgs
fi"""

TOOLS_SCRIPT = """#!/bin/sh
echo "maint-fixture-tools {version}"
"""

# Baseline fixtures: (name, description, the repository it is published in).
MAIN_EXTRAS = (
    ("maint-fixture-lib", "maint patch-baseline fixture: a package to hold"),
    ("maint-fixture-doc", "maint patch-baseline fixture: a package to reject by pattern"),
    ("linux-image-maint-fixture", "maint patch-baseline fixture: a kernel package by name"),
)
AGENT = "maint-fixture-agent"
AGENT_DATA = "maint-fixture-agent-data"
AGENT_DATA_VERSION = "1.0"


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _control(name: str, version: str, description: str, depends: str = "") -> str:
    lines = [
        f"Package: {name}",
        f"Version: {version}",
        "Section: admin",
        "Priority: optional",
        "Architecture: all",
        "Maintainer: maint lab <lab@example.invalid>",
    ]
    if depends:
        lines.append(f"Depends: {depends}")
    lines.append(f"Description: {description}")
    return "\n".join(lines) + "\n"


def _build_deb(tree: Path, out: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        os.utime(path, (EPOCH, EPOCH), follow_symlinks=False)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(tree), str(out)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def fixture_deb(workdir: Path, version: str, out_dir: Path) -> Path:
    tree = workdir / f"maint-fixture_{version}"
    _write(tree / "DEBIAN/control", _control("maint-fixture", version, "maint patching fixture"))
    _write(tree / "DEBIAN/conffiles", "/etc/maint-fixture.conf\n/etc/init.d/maint-fixture\n")
    reboot = REBOOT_FLAG if version != "1.0" else ""
    _write(tree / "DEBIAN/postinst", POSTINST.format(reboot=reboot), 0o755)
    _write(tree / "usr/bin/maint-fixture", FIXTURE_SCRIPT.format(version=version), 0o755)
    _write(tree / "etc/maint-fixture.conf", f"# maint-fixture {version}\nhealthy=yes\n")
    _write(tree / "etc/init.d/maint-fixture", INIT_SCRIPT, 0o755)
    deb = out_dir / f"maint-fixture_{version}_all.deb"
    _build_deb(tree, deb)
    return deb


def tools_deb(workdir: Path, version: str, out_dir: Path) -> Path:
    tree = workdir / f"maint-fixture-tools_{version}"
    _write(
        tree / "DEBIAN/control",
        _control("maint-fixture-tools", version, "maint security-update fixture"),
    )
    _write(tree / "usr/bin/maint-fixture-tools", TOOLS_SCRIPT.format(version=version), 0o755)
    deb = out_dir / f"maint-fixture-tools_{version}_all.deb"
    _build_deb(tree, deb)
    return deb


def simple_deb(workdir: Path, name: str, version: str, description: str, out_dir: Path,
               depends: str = "") -> Path:  # fmt: skip
    """A package that only carries its version, for the patch baseline tests."""
    tree = workdir / f"{name}_{version}"
    _write(tree / "DEBIAN/control", _control(name, version, description, depends))
    _write(tree / f"usr/share/maint-fixture/{name}.version", f"{version}\n")
    deb = out_dir / f"{name}_{version}_all.deb"
    _build_deb(tree, deb)
    return deb


def _hashes(data: bytes) -> dict[str, str]:
    return {
        "MD5sum": hashlib.md5(data).hexdigest(),  # apt index field, not a security use
        "SHA1": hashlib.sha1(data).hexdigest(),
        "SHA256": hashlib.sha256(data).hexdigest(),
    }


def write_index(repo: Path, debs: list[Path], origin: str, label: str, suite: str) -> None:
    """Write Packages, Packages.gz and Release for a flat repository."""
    stanzas = []
    for deb in sorted(debs):
        control = subprocess.run(
            ["dpkg-deb", "-f", str(deb)], check=True, capture_output=True, text=True
        ).stdout.rstrip("\n")
        data = deb.read_bytes()
        fields = [control, f"Filename: ./{deb.name}", f"Size: {len(data)}"]
        fields += [f"{k}: {v}" for k, v in _hashes(data).items()]
        stanzas.append("\n".join(fields))
    packages = ("\n\n".join(stanzas) + "\n").encode()
    (repo / "Packages").write_bytes(packages)
    (repo / "Packages.gz").write_bytes(gzip.compress(packages, mtime=EPOCH))
    release = [
        f"Origin: {origin}",
        f"Label: {label}",
        f"Suite: {suite}",
        "Codename: bookworm",
        "Architectures: all amd64 arm64",
        "Date: Thu, 01 Jan 2026 00:00:00 UTC",
    ]
    for field, algo in (("MD5Sum", "MD5sum"), ("SHA256", "SHA256")):
        release.append(f"{field}:")
        for name in ("Packages", "Packages.gz"):
            blob = (repo / name).read_bytes()
            release.append(f" {_hashes(blob)[algo]} {len(blob)} {name}")
    (repo / "Release").write_text("\n".join(release) + "\n")


def build(out: Path, versions: list[str]) -> None:
    if shutil.which("dpkg-deb") is None:
        raise SystemExit("fixture_repo: dpkg-deb is missing (Debian package dpkg)")
    main_dir, sec_dir = out / "main", out / "security"
    for repo in (main_dir, sec_dir):
        repo.mkdir(parents=True, exist_ok=True)
        for stale in repo.glob("*.deb"):
            stale.unlink()
    with tempfile.TemporaryDirectory(prefix="maint-fixture-") as tmp:
        work = Path(tmp)
        main_debs = [fixture_deb(work, v, main_dir) for v in versions]
        sec_debs = [tools_deb(work, v, sec_dir) for v in versions]
        main_debs += [
            simple_deb(work, name, v, description, main_dir)
            for name, description in MAIN_EXTRAS
            for v in versions
        ]
        sec_debs += [
            simple_deb(
                work,
                AGENT,
                v,
                "maint patch-baseline fixture: a security update to age",
                sec_dir,
                depends="" if v == "1.0" else AGENT_DATA,
            )
            for v in versions
        ]
        sec_debs.append(
            simple_deb(
                work,
                AGENT_DATA,
                AGENT_DATA_VERSION,
                "maint patch-baseline fixture: a new dependency",
                sec_dir,
            )
        )
    write_index(main_dir, main_debs, "maint-lab", "maint-fixture", "maint-fixture")
    write_index(sec_dir, sec_debs, "Debian", "Debian-Security", "bookworm-security")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory to write the repositories into")
    parser.add_argument("--versions", default="1.0,1.1", help="comma-separated versions")
    args = parser.parse_args(argv)
    versions = [v for v in args.versions.split(",") if v]
    build(args.out, versions)
    print(f"fixture repository in {args.out} (versions {', '.join(versions)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
