# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""ClamAV output parsing for the antivirus role: pure functions, unit-tested on real output.

``sigtool --info FILE`` prints the header of a signed (``.cvd``/``.cld``) or unsigned (``.cud``)
database, for example (ClamAV 1.4.6)::

    File: daily.cud
    Build time: 23 Nov 2026 21:32 +0000
    Version: 27000
    Signatures: 2
    Functionality level: 216
    Builder: maintbuilder
    Verification: Unsigned container

The same data sits in the first 512 bytes of the file, colon-separated
(``ClamAV-VDB:23 Nov 2026 21-32 +0000:27000:2:216:<md5>:<dsig>:<builder>:<epoch>``); the build
time comes from there, never from the file's mtime (a copied or restored file keeps an old header
with a new mtime). Plain signature files (``.hdb``, ``.ndb``, ...) have no header: they are
custom signatures, not official definitions.

clamscan writes, per run, the infected files (``PATH: SIGNATURE FOUND``) then a summary block
that starts with ``----------- SCAN SUMMARY -----------``; a log written with ``--log`` gets a
separator line of dashes before every run.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

OFFICIAL_SUFFIXES = (".cvd", ".cld", ".cud")
CUSTOM_SUFFIXES = (
    ".hdb",
    ".hsb",
    ".mdb",
    ".msb",
    ".ndb",
    ".ldb",
    ".cdb",
    ".idb",
    ".ign",
    ".ign2",
    ".fp",
    ".sfp",
    ".pdb",
    ".gdb",
    ".wdb",
    ".ftm",
    ".yar",
    ".yara",
    ".cbc",
    ".crb",
)
BUILD_TIME_FORMATS = ("%d %b %Y %H:%M %z", "%d %b %Y %H-%M %z")
FOUND_RE = re.compile(r"^(?:.* -> )?(?P<path>/.*?): (?P<signature>\S+) FOUND$")
MOVED_RE = re.compile(r"^(?P<path>/.*?): moved to '(?P<dest>.*)'$")
SUMMARY_MARK = "----------- SCAN SUMMARY -----------"
SEPARATOR_RE = re.compile(r"^-{20,}$")
VERSION_RE = re.compile(r"ClamAV (?P<engine>[0-9][^/\s]*)(?:/(?P<db>\d+)/(?P<dbdate>.+))?")


def parse_build_time(text):
    """``23 Nov 2026 21:32 +0000`` (sigtool) or ``23 Nov 2026 21-32 +0000`` (raw header)."""
    text = (text or "").strip()
    for fmt in BUILD_TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).astimezone(timezone.utc)
        except ValueError:
            continue
    return None


def parse_sigtool_info(text):
    """The header fields of ``sigtool --info`` output; ``{}`` when it is not a database header."""
    fields = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        fields[key.strip().lower()] = value.strip()
    if "build time" not in fields:
        return {}
    built = parse_build_time(fields["build time"])
    return {
        "file": fields.get("file"),
        "build_time": built.isoformat() if built else None,
        "version": _int(fields.get("version")),
        "signatures": _int(fields.get("signatures")),
        "functionality_level": _int(fields.get("functionality level")),
        "builder": fields.get("builder"),
        "verification": fields.get("verification"),
    }


def parse_cvd_header(raw):
    """The same fields from the first 512 bytes of a .cvd/.cld/.cud file (bytes or str)."""
    if isinstance(raw, bytes):
        raw = raw[:512].decode("latin-1")
    raw = raw[:512].rstrip("\x00 ")
    parts = raw.split(":")
    if len(parts) < 8 or parts[0] != "ClamAV-VDB":
        return {}
    built = None
    if len(parts) >= 9 and parts[8].strip().isdigit():
        built = datetime.fromtimestamp(int(parts[8].strip()), tz=timezone.utc)
    if built is None:
        built = parse_build_time(parts[1])
    return {
        "file": None,
        "build_time": built.isoformat() if built else None,
        "version": _int(parts[2]),
        "signatures": _int(parts[3]),
        "functionality_level": _int(parts[4]),
        "builder": parts[7] or None,
        "verification": None,
    }


def _int(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def classify_database(name):
    """``official`` for .cvd/.cld/.cud, ``custom`` for plain signature files, else ``None``."""
    lower = name.lower()
    if lower.endswith(OFFICIAL_SUFFIXES):
        return "official"
    if lower.endswith(CUSTOM_SUFFIXES):
        return "custom"
    return None


def _age_days(build_time, now):
    built = datetime.fromisoformat(build_time)
    return round((now - built).total_seconds() / 86400.0, 2)


def definitions_summary(databases, now, max_age_days=None):
    """Age of the definitions from the official databases' headers.

    ``databases`` is a list of parsed headers with ``file`` set. The age is that of the newest
    ``daily`` database when there is one (it is the one that moves every day), else of the newest
    official database. With no official database at all the definitions are missing.
    """
    dated = [d for d in databases or [] if d.get("build_time")]
    if not dated:
        return {
            "present": False,
            "path": None,
            "version": None,
            "build_time": None,
            "age_days": None,
            "stale": True,
        }
    daily = [d for d in dated if (d.get("file") or "").rsplit("/", 1)[-1].startswith("daily.")]
    pool = daily or dated
    newest = max(pool, key=lambda d: d["build_time"])
    age = _age_days(newest["build_time"], now)
    return {
        "present": True,
        "path": newest.get("file"),
        "version": newest.get("version"),
        "build_time": newest["build_time"],
        "age_days": age,
        "stale": max_age_days is not None and age > max_age_days,
    }


def parse_engine_version(text):
    """``ClamAV 1.4.6/27000/Mon Nov 23 21:32:00 2026`` -> engine, database version and date."""
    match = VERSION_RE.search(text or "")
    if not match:
        return {"engine": None, "database_version": None, "database_date": None}
    return {
        "engine": match.group("engine"),
        "database_version": _int(match.group("db")),
        "database_date": (match.group("dbdate") or "").strip() or None,
    }


def _summary_fields(lines):
    fields = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return fields


def _scan_date(value):
    try:
        return datetime.strptime(value.strip(), "%Y:%m:%d %H:%M:%S").isoformat()
    except (AttributeError, ValueError):
        return None


def parse_scan_output(text):
    """The last clamscan run in ``text`` (stdout or a ``--log`` file).

    Returns ``infected`` ([{path, signature, moved_to}]), the summary counts, start and end
    (local time as clamscan writes it, ISO format), ``errors`` (lines that start with ERROR or
    WARNING) and ``complete`` (a summary was found).
    """
    lines = (text or "").splitlines()
    # The last run starts after the last separator that precedes the last summary.
    summary_at = max(
        (i for i, line in enumerate(lines) if line.strip() == SUMMARY_MARK), default=None
    )
    end = len(lines)
    start = 0
    if summary_at is not None:
        for i in range(summary_at - 1, -1, -1):
            if SEPARATOR_RE.match(lines[i].strip()) or lines[i].strip() == SUMMARY_MARK:
                start = i + 1
                break
        body, summary = lines[start:summary_at], lines[summary_at + 1 : end]
        # A following run in the same file would start with a separator: stop there.
        for j, line in enumerate(summary):
            if SEPARATOR_RE.match(line.strip()):
                summary = summary[:j]
                break
    else:
        body, summary = lines, []
    infected = []
    by_path = {}
    errors = []
    for line in body:
        line = line.rstrip()
        found = FOUND_RE.match(line)
        if found:
            item = {
                "path": found.group("path"),
                "signature": found.group("signature"),
                "moved_to": None,
            }
            infected.append(item)
            by_path[item["path"]] = item
            continue
        moved = MOVED_RE.match(line)
        if moved and moved.group("path") in by_path:
            by_path[moved.group("path")]["moved_to"] = moved.group("dest")
            continue
        if line.startswith(("ERROR:", "WARNING:", "LibClamAV Error:")):
            errors.append(line)
    fields = _summary_fields(summary)
    return {
        "complete": summary_at is not None,
        "infected": infected,
        "infected_count": _int(fields.get("infected files"))
        if "infected files" in fields
        else len(infected),
        "scanned": _int(fields.get("scanned files")),
        "known_signatures": _int(fields.get("known viruses")),
        "engine": fields.get("engine version"),
        "start": _scan_date(fields.get("start date")),
        "end": _scan_date(fields.get("end date")),
        "errors": errors,
    }


def scan_age_days(scan, now):
    """Days since the end (or start) of a parsed scan; ``None`` when it has no date.

    clamscan writes local time without a zone; ``now`` must be a naive local datetime.
    """
    stamp = (scan or {}).get("end") or (scan or {}).get("start")
    if not stamp:
        return None
    return round((now - datetime.fromisoformat(stamp)).total_seconds() / 86400.0, 2)
