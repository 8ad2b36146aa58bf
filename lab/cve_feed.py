#!/usr/bin/env python3
"""Build a small vulnerability feed in the format debsecan reads, for the tests and the lab.

debsecan (Debian's tool) reads ``SOURCE/SUITE``: zlib-compressed text with three sections
separated by blank lines: ``VERSION 1``, then the vulnerabilities (``NAME,FLAGS,DESCRIPTION``),
then the affected packages (``PACKAGE,VULN-INDEX,FLAGS,FIXED-VERSION,OTHER-VERSIONS`` where
FLAGS are four characters: ``B`` binary or space for a source package, the urgency ``L M H``
or space, ``R`` remotely exploitable, ``?`` unknown or space, ``F`` a fix is available in the
suite or space), then source to binary package names. maint.yml names the feed
(``cve.feed: file:///srv/feed/``); production points at Debian's security tracker or a mirror.

The fixture feed knows the lab's fixture packages (lab/fixture_repo.py):

* ``CVE-2026-90001``: ``maint-fixture`` before 1.1, high urgency, remotely exploitable, fixed in
  1.1 (a critical one: the fix is the fixture's own update);
* ``CVE-2026-90002``: ``maint-fixture-tools`` before 1.1, medium urgency, fixed in 1.1;
* ``CVE-2026-90003``: ``maint-fixture`` every version, low urgency, no fix yet.

Usage: cve_feed.py OUT [--suite bookworm]   (writes OUT/SUITE)
"""

from __future__ import annotations

import argparse
import zlib
from collections.abc import Sequence
from pathlib import Path

# (id, description, package, urgency L/M/H or " ", remote, fixed version or "")
Entry = tuple[str, str, str, str, bool, str]
FIXTURE: tuple[Entry, ...] = (
    ("CVE-2026-90001", "maint-fixture lets a remote user read its secrets", "maint-fixture",
     "H", True, "1.1"),
    ("CVE-2026-90002", "maint-fixture-tools crashes on a crafted input", "maint-fixture-tools",
     "M", False, "1.1"),
    ("CVE-2026-90003", "maint-fixture logs too much", "maint-fixture", "L", False, ""),
)  # fmt: skip


def feed_text(entries: Sequence[Entry]) -> str:
    lines = ["VERSION 1"]
    lines += [f"{cve},,{description}" for cve, description, *_ in entries]
    lines.append("")
    for index, (_cve, _d, package, urgency, remote, fixed) in enumerate(entries):
        flags = " " + urgency + ("R" if remote else " ") + ("F" if fixed else " ")
        lines.append(f"{package},{index},{flags},{fixed},")
    lines.append("")
    for package in sorted({entry[2] for entry in entries}):
        lines.append(f"{package},{package}")
    lines.append("")
    return "\n".join(lines) + "\n"


def write_feed(out: Path, suite: str = "bookworm", entries: Sequence[Entry] = FIXTURE) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / suite
    path.write_bytes(zlib.compress(feed_text(entries).encode(), 9))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--suite", default="bookworm")
    args = parser.parse_args()
    print(write_feed(args.out, args.suite))


if __name__ == "__main__":
    main()
