# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""The one builder of a planned or applied change (``data.changes``, docs/role-contract.md).

Every role that changes state lists each change per control: in check mode what it would
change (what a plan shows and an approver signs), after an apply what it changed. Modules and
filters build the entries here, so the shape is spelled once:

    from ansible_collections.maint.preventive.plugins.module_utils.changes import (
        change, file_change)

    file_change("SSH-01", "/etc/ssh/sshd_config.d/00-maint-hardening.conf", old, new)
    change("AUTH-03", "package", "libpam-pwquality", "install", after="1.4.5-1+b1",
           pulls=["libpwquality1 1.4.5-1+b1"])

Pure functions, unit-tested in tests/unit/test_changes.py.
"""

from __future__ import annotations

import difflib
import re

KINDS = ("file", "package", "service", "sysctl", "mode", "owner", "account", "key")
ACTIONS = (
    "create",
    "modify",
    "remove",
    "install",
    "upgrade",
    "downgrade",
    "purge",
    "restart",
    "reload",
    "set",
    "expire",
)
REDACTED = "<redacted>"

# A line that carries a secret: KEY = VALUE, KEY: VALUE or KEY VALUE where KEY names a
# password, secret, token or private key (freshclam's HTTPProxyPassword, a restic password...).
# A commented-out setting is "#KEY value" (no space after the hash); "# Password aging" is prose.
_SECRET = re.compile(
    r"^(?P<lead>\s*(?:[#;](?=\S))?[\w.-]*?(?:password|passwd|passphrase|secret|token|"
    r"api[_-]?key|private[_-]?key|credentials?))(?P<sep>\s*[=:]\s*|\s+)(?P<value>\S.*)$",
    re.IGNORECASE,
)


def redact_line(line):
    """``line`` with the value of a secret-looking setting replaced by ``<redacted>``."""
    match = _SECRET.match(line)
    if not match:
        return line
    ending = "\n" if line.endswith("\n") else ""
    return "%s%s%s%s" % (match.group("lead"), match.group("sep"), REDACTED, ending)


def redact(text):
    """Every secret-looking value of a config text replaced (line by line)."""
    if text is None:
        return None
    return "".join(redact_line(line) for line in text.splitlines(True))


def unified_diff(path, before, after):
    """The unified diff of a file from ``before`` to ``after`` (None: the file does not exist),
    labelled with the path on both sides, secrets redacted; ``""`` when they are equal."""
    old = redact(before or "").splitlines(True)
    new = redact(after or "").splitlines(True)
    lines = []
    for line in difflib.unified_diff(
        old,
        new,
        fromfile="/dev/null" if before is None else path,
        tofile="/dev/null" if after is None else path,
    ):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        lines.append(line)
    return "".join(lines)


def change(
    control,
    kind,
    target,
    action,
    before=None,
    after=None,
    diff=None,
    pulls=None,
    would_fail=None,
    **extra,
):
    """One change: the control, what kind of object, which one, what happens to it, its old and
    new value (version, value, mode or owner), a file's diff, the other packages a package
    change pulls in (``"name version"``) and, when the plan predicts it cannot succeed, why.
    ``extra`` keys (e.g. ``note``) are kept as they are."""
    if kind not in KINDS:
        raise ValueError(
            "change %s %s: unknown kind %r (one of %s)" % (control, target, kind, ", ".join(KINDS))
        )
    if action not in ACTIONS:
        raise ValueError(
            "change %s %s: unknown action %r (one of %s)"
            % (control, target, action, ", ".join(ACTIONS))
        )
    entry = {
        "control": str(control),
        "kind": kind,
        "target": str(target),
        "action": action,
        "before": None if before is None else str(before),
        "after": None if after is None else str(after),
        "diff": diff or None,
        "pulls": list(pulls or []),
        "would_fail": would_fail or None,
    }
    entry.update(extra)
    return entry


def file_change(control, path, before, after, would_fail=None, **extra):
    """The change of a file's content from ``before`` to ``after`` (None: absent), with its
    unified diff (secrets redacted); None when nothing changes."""
    if before == after:
        return None
    if before is None:
        action = "create"
    elif after is None:
        action = "remove"
    else:
        action = "modify"
    return change(
        control,
        "file",
        path,
        action,
        diff=unified_diff(path, before, after),
        would_fail=would_fail,
        **extra,
    )


def mode_changes(control, path, before, after):
    """The mode and owner changes of a path: ``before`` and ``after`` are
    ``{"mode": "0644", "owner": "root", "group": "root"}`` (missing keys are not compared)."""
    out = []
    if after.get("mode") is not None and before.get("mode") != after.get("mode"):
        out.append(change(control, "mode", path, "set", before.get("mode"), after["mode"]))
    owner_before = "%s:%s" % (before.get("owner"), before.get("group"))
    owner_after = "%s:%s" % (
        after.get("owner") or before.get("owner"),
        after.get("group") or before.get("group"),
    )
    if owner_before != owner_after:
        out.append(change(control, "owner", path, "set", owner_before, owner_after))
    return out


def apply_unified_diff(text, diff):
    """Apply a unified diff made by :func:`unified_diff` to ``text`` (None: absent) and return
    the result (None when the diff removes the file). Raises ValueError when a hunk does not
    match: used by tests to prove that a plan's diff is what an apply did."""
    if not diff:
        return text
    lines = (text or "").splitlines(True)
    out = []
    pos = 0
    removed = False
    diff_lines = diff.splitlines(True)
    i = 0
    while i < len(diff_lines):
        line = diff_lines[i]
        if line.startswith("+++ "):
            removed = line.strip() == "+++ /dev/null"
            i += 1
            continue
        if line.startswith("--- "):
            i += 1
            continue
        match = re.match(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", line)
        if not match:
            raise ValueError("not a unified diff line: %r" % line)
        start = int(match.group(1))
        count = 1 if match.group(2) is None else int(match.group(2))
        start = start - 1 if count else start
        out.extend(lines[pos:start])
        pos = start
        i += 1
        while i < len(diff_lines) and not diff_lines[i].startswith(("@@", "--- ")):
            body = diff_lines[i]
            if body.startswith("\\"):
                if out and out[-1].endswith("\n") and diff_lines[i - 1].startswith(("+", " ")):
                    out[-1] = out[-1][:-1]
                i += 1
                continue
            tag, content = body[0], body[1:]
            if tag in (" ", "-"):
                if pos >= len(lines) or lines[pos].rstrip("\n") != content.rstrip("\n"):
                    raise ValueError("hunk does not match at line %d: %r" % (pos + 1, content))
                pos += 1
            if tag in (" ", "+"):
                out.append(content)
            i += 1
    out.extend(lines[pos:])
    return None if removed else "".join(out)


def skip_controls(skip, host, controls=None):
    """The controls the runner asks ``host`` to leave out (``maint_skip_controls``:
    {host: [control, ...]}; a plain list applies to every host); with ``controls``, only those
    of that list (a role's own)."""
    if isinstance(skip, (list, tuple)):
        wanted = [str(c) for c in skip]
    else:
        wanted = [str(c) for c in (skip or {}).get(host) or []]
    if controls is None:
        return wanted
    return [c for c in controls if c in wanted]
