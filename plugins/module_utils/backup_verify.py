# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Pure helpers for the backup_verify module: no I/O, no subprocesses.

Parses restic and borg JSON output, computes the recovery point age against an injectable
"now", matches expected paths, chooses a deterministic restore sample, compares checksums,
classifies repository check output and turns one repository's facts into findings.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from datetime import datetime, timezone

from ansible_collections.maint.preventive.plugins.module_utils.findings import finder

_FRACTION = re.compile(r"\.(\d+)")
_URL_USERINFO = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*:(?:[a-z0-9]+:)?//)(?P<userinfo>[^@/\s]+)@", re.I
)

CORRUPTION_PATTERNS = (
    "pack id does not match",
    "ciphertext verification failed",
    "hash does not match",
    "wrong data returned",
    "blob not found",
    "pack not found",
    "unexpected end of file",
    "incomplete pack file",
    "not referenced in any index",
    "error for tree",
    "data integrity error",
    "segment entry checksum mismatch",
    "index object count mismatch",
    "missing file chunk",
    "archive metadata damaged",
)
LOCKED_PATTERNS = (
    "repository is already locked",
    "unable to create lock",
    "failed to create/acquire the lock",
)


def parse_time(value: str, naive_tz=timezone.utc) -> datetime:
    """Parse an RFC 3339 / ISO 8601 time as restic (nanoseconds, Z) or borg (naive) print it."""
    text = value.strip().replace("Z", "+00:00")
    match = _FRACTION.search(text)
    if match:
        text = text[: match.start()] + "." + match.group(1)[:6].ljust(6, "0") + text[match.end() :]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_tz)
    return parsed


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_restic_snapshots(text: str) -> list[dict]:
    """``restic snapshots --json``: id, short_id, time (UTC), hostname, paths, tags; by time."""
    raw = json.loads(text or "[]") or []
    snapshots = []
    for item in raw:
        when = parse_time(item["time"])
        snapshots.append(
            {
                "id": item["id"],
                "short_id": item.get("short_id", item["id"][:8]),
                "time": _iso(when),
                "hostname": item.get("hostname", ""),
                "paths": list(item.get("paths") or []),
                "tags": list(item.get("tags") or []),
            }
        )
    return sorted(snapshots, key=lambda s: s["time"])


def parse_borg_archives(text: str, naive_tz=timezone.utc) -> list[dict]:
    """``borg list --json REPO``: archives in the same shape as restic snapshots, oldest first.

    Borg 1.x prints naive local times; ``naive_tz`` is the host's time zone.
    """
    raw = json.loads(text or "{}") or {}
    snapshots = []
    for item in raw.get("archives", []):
        when = parse_time(item.get("time") or item["start"], naive_tz=naive_tz)
        snapshots.append(
            {
                "id": item["name"],
                "short_id": item.get("id", "")[:8],
                "time": _iso(when),
                "hostname": item.get("hostname", ""),
                "paths": [],
                "tags": [],
            }
        )
    return sorted(snapshots, key=lambda s: s["time"])


def newest(snapshots: list[dict]) -> dict | None:
    return max(snapshots, key=lambda s: s["time"]) if snapshots else None


def age_hours(time_iso: str, now: datetime) -> float:
    """Hours between a snapshot time and ``now`` (aware), rounded to 0.01 h."""
    return round((now - parse_time(time_iso)).total_seconds() / 3600.0, 2)


def parse_restic_ls(text: str) -> list[dict]:
    """``restic ls --json <id>``: nodes (path, type, size, mtime), without the snapshot header."""
    nodes = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        item = json.loads(line)
        if item.get("struct_type", "node") != "node":
            continue
        nodes.append(
            {
                "path": item["path"],
                "type": item.get("type", ""),
                "size": item.get("size", 0),
                "mtime": item.get("mtime", ""),
            }
        )
    return nodes


def parse_borg_ls(text: str) -> list[dict]:
    """``borg list --json-lines REPO::ARCHIVE``: nodes with absolute paths and restic's types."""
    kinds = {"-": "file", "d": "dir", "l": "symlink"}
    nodes = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        item = json.loads(line)
        nodes.append(
            {
                "path": "/" + item["path"].lstrip("/"),
                "type": kinds.get(item.get("type", ""), "other"),
                "size": item.get("size", 0),
                "mtime": item.get("mtime", ""),
            }
        )
    return nodes


def missing_paths(expected: list[str], paths: list[str]) -> list[str]:
    """Expected paths (exact, a directory prefix, or a shell pattern) that match nothing."""
    present = set(paths)
    missing = []
    for want in expected:
        norm = "/" + want.strip("/") if want.strip("/") else "/"
        if norm in present:
            continue
        if any(ch in norm for ch in "*?["):
            if any(fnmatch.fnmatchcase(p, norm) for p in paths):
                continue
        elif any(p.startswith(norm.rstrip("/") + "/") for p in paths):
            continue
        missing.append(want)
    return missing


def choose_sample(nodes: list[dict], count: int, max_size: int) -> list[str]:
    """Choose ``count`` regular files deterministically (ordered by a hash of the path).

    The same snapshot content gives the same sample on every run, spread over the tree rather
    than the first files alphabetically. Files larger than ``max_size`` bytes are left out.
    """
    files = [
        n for n in nodes if n["type"] == "file" and (max_size <= 0 or n.get("size", 0) <= max_size)
    ]
    files.sort(key=lambda n: hashlib.sha256(n["path"].encode("utf-8")).hexdigest())
    return sorted(n["path"] for n in files[: max(count, 0)])


def compare_file(path: str, restored_sha: str | None, reference: dict) -> dict:
    """One restored file against its reference.

    ``reference`` is {kind: checksum|source|size|none, sha256, size, restored_size}. Returns the
    file record with ``match`` True, False, or None (nothing to compare with).
    """
    kind = reference.get("kind", "none")
    record = {
        "path": path,
        "sha256": restored_sha,
        "reference": kind,
        "expected_sha256": reference.get("sha256"),
        "match": None,
    }
    if restored_sha is None:
        record["match"] = False
        record["reason"] = "not restored"
    elif kind in ("checksum", "source"):
        record["match"] = restored_sha.lower() == (reference.get("sha256") or "").lower()
        if not record["match"]:
            record["reason"] = "content differs from the " + (
                "recorded checksum" if kind == "checksum" else "source file"
            )
    elif kind == "size":
        record["match"] = reference.get("restored_size") == reference.get("size")
        if not record["match"]:
            record["reason"] = "size differs from the snapshot"
    return record


def classify_check(tool: str, rc: int, output: str) -> dict:
    """Classify ``restic check`` / ``borg check`` output: kind ok, corruption, locked or error."""
    lowered = output.lower()
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if rc == 0:
        return {"ok": True, "kind": "ok", "message": "no errors were found"}
    if any(p in lowered for p in LOCKED_PATTERNS):
        kind = "locked"
    elif any(p in lowered for p in CORRUPTION_PATTERNS) or "repository contains errors" in lowered:
        kind = "corruption"
    else:
        kind = "error"
    interesting = [
        line
        for line in lines
        if any(
            p in line.lower() for p in CORRUPTION_PATTERNS + LOCKED_PATTERNS + ("fatal", "error")
        )
    ]
    message = "; ".join((interesting or lines or ["exit code %d" % rc])[:5])
    return {"ok": False, "kind": kind, "message": message[:1000]}


def redact(text: str, secrets: list[str]) -> str:
    """Remove secrets and URL credentials from a text that may end up in results or logs."""
    if not text:
        return text
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return _URL_USERINFO.sub(lambda m: m.group("scheme") + "********@", text)


_finding = finder("backup_verify")


def repository_findings(repo: dict) -> list[dict]:
    """Findings for one verified repository (the per-repository data the module returns)."""
    name = repo["name"]
    where = "%s repository %s (%s)" % (repo["type"], name, repo["repository"])
    findings = []
    if repo.get("tool_missing"):
        severity = "info" if repo.get("install_pending") else "critical"
        return [
            _finding(
                "tool_missing",
                severity,
                "%s is not installed, so %s cannot be verified" % (repo["type"], where),
                "Install %s (backup_verify_install: true does it) and run the verification again."
                % ("borgbackup" if repo["type"] == "borg" else "restic"),
            )
        ]
    if repo.get("password_file_mode"):
        findings.append(
            _finding(
                "password_file_permissive",
                "medium",
                "The password file of %s has mode %s (readable by others)"
                % (where, repo["password_file_mode"]),
                "Restrict the password file to its owner (chmod 0600 or 0400).",
            )
        )
    if repo.get("error"):
        findings.append(
            _finding(
                "repository_unreachable",
                "critical",
                "Cannot open %s: %s" % (where, repo["error"]),
                "Check the repository location, the password and the network, then verify again.",
            )
        )
        return findings
    if not repo.get("snapshots"):
        findings.append(
            _finding(
                "no_snapshot",
                "critical",
                "%s has no snapshot: there is no recovery point" % where,
                "Check that the backup job runs and writes to this repository; take a backup now.",
            )
        )
    else:
        age = repo.get("recovery_point_age_hours")
        limit = repo.get("max_age_hours")
        if age is not None and limit is not None and age > limit:
            findings.append(
                _finding(
                    "stale_snapshot",
                    "high",
                    "The newest snapshot of %s (%s, %s) is %.1f h old, over the %s h recovery point"
                    % (where, repo["newest"]["short_id"], repo["newest"]["time"], age, limit),
                    "Find out why the backup job stopped (schedule, errors, space); back up now.",
                )
            )
    for path in repo.get("expected_paths_missing") or []:
        findings.append(
            _finding(
                "expected_path_missing",
                "high",
                "Expected path %s is not in the newest snapshot of %s" % (path, where),
                "Add the path to the backup job's sources (or fix exclusions) and take a backup.",
            )
        )
    check = repo.get("check") or {}
    if check and not check.get("ok", True) and not check.get("skipped"):
        if check.get("kind") == "locked":
            findings.append(
                _finding(
                    "check_locked",
                    "medium",
                    "The check of %s could not run: the repository is locked (%s)"
                    % (where, check.get("message")),
                    "Verify after the running backup; remove a stale lock only if none runs.",
                )
            )
        elif check.get("kind") == "corruption":
            findings.append(
                _finding(
                    "corruption",
                    "critical",
                    "The check of %s found corrupted data: %s" % (where, check.get("message")),
                    "Stop pruning, copy the repository aside, repair it (restic rebuild-index, "
                    "borg check --repair) and take a fresh full backup to a healthy repository.",
                )
            )
        else:
            findings.append(
                _finding(
                    "check_failed",
                    "critical",
                    "The check of %s failed: %s" % (where, check.get("message")),
                    "Run the repository check by hand, fix the cause and verify again.",
                )
            )
    restore = repo.get("restore") or {}
    if restore.get("error"):
        findings.append(
            _finding(
                "restore_failed",
                "critical",
                "The test restore from %s failed: %s" % (where, restore["error"]),
                "Restore by hand to find the damaged data; repair the repository, back up again.",
            )
        )
    for path in restore.get("missing") or []:
        findings.append(
            _finding(
                "canary_missing",
                "high",
                "Canary file %s is not in the newest snapshot of %s" % (path, where),
                "Make sure the canary file exists and is inside the backup job's sources.",
            )
        )
    for item in restore.get("files") or []:
        if item.get("match") is False and item.get("reason") != "not restored":
            findings.append(
                _finding(
                    "restore_mismatch",
                    "critical",
                    "Restored %s from %s does not match: %s"
                    % (item["path"], where, item.get("reason", "differs")),
                    "Treat the backup as unreliable: compare by hand, repair, take a fresh backup.",
                )
            )
    return findings
