# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Which file and line set an sshd value: the Include chain in sshd's own order (pure).

sshd reads ``sshd_config`` from the top; ``Include`` reads each glob's files in sorted order at
that point (on Debian ``Include /etc/ssh/sshd_config.d/*.conf`` is the first line, so the
drop-ins come before the rest of the main file). For most keywords the **first** value wins.
A ``Match`` block lasts until the next ``Match`` line or the end of the file it is in (a Match
in an included file does not leak into the including file; an ``Include`` inside a Match block
gives its files that block's context); values of the Match blocks that apply to a connection
override the global ones, and among those the first wins again.

Nothing here reads the disk: the callers pass ``read(path) -> text or None`` and
``listdir(directory) -> names``, so every rule is unit-tested (tests/unit/test_sshd_config.py).
The module ``maint.preventive.hardening_sshd`` does the I/O and asks sshd itself (``sshd -T``,
``sshd -t``) for the effective values and the validation.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
import shlex

MAIN = "/etc/ssh/sshd_config"
BASE = "/etc/ssh"
MAX_DEPTH = 16

# sshd -T prints some values differently from how they are written.
_ALIASES = {"without-password": "prohibit-password"}
_TIME_KEYS = ("logingracetime", "clientaliveinterval")
_TIME = re.compile(r"(\d+)([smhdwSMHDW]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def split_line(text):
    """``(keyword, arguments)`` of one config line, or None for a blank line or a comment.
    ``Keyword=value`` and quoted arguments are understood the way sshd reads them."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    match = re.match(r"^([A-Za-z0-9]+)\s*(?:=\s*|\s+|$)(.*)$", stripped)
    if not match:
        return None
    rest = match.group(2).strip()
    try:
        args = shlex.split(rest, comments=True)
    except ValueError:
        args = rest.split()
    return match.group(1), args


def _glob(pattern, listdir):
    """Sorted paths matching an absolute glob pattern (``*`` and ``?`` in the last component;
    names starting with a dot only when the pattern does), like glob(3) for sshd's Include."""
    directory, name = os.path.split(pattern)
    if not any(c in name for c in "*?["):
        return [pattern] if name in (listdir(directory) or []) else []
    hidden = name.startswith(".")
    return sorted(
        os.path.join(directory, entry)
        for entry in listdir(directory) or []
        if fnmatch.fnmatchcase(entry, name) and (hidden or not entry.startswith("."))
    )


def include_paths(args, listdir, base=BASE):
    """The files one ``Include`` line reads, in order (relative patterns are under /etc/ssh)."""
    out = []
    for pattern in args:
        if not pattern.startswith("/"):
            pattern = os.path.join(base, pattern)
        out.extend(_glob(pattern, listdir))
    return out


def read_chain(read, listdir, main=MAIN, base=BASE):
    """Every directive sshd reads, in its order: a list of dicts with ``key`` (lower case),
    ``name`` (as written), ``value`` (the arguments joined by a space), ``path``, ``line``
    (1-based), ``match`` (the Match criteria that apply, None for global) and ``order``.
    Include lines themselves are listed with key ``include`` and their ``files``."""
    lines = []

    def walk(path, inherited, depth):
        if depth > MAX_DEPTH:
            return
        text = read(path)
        if text is None:
            return
        match = inherited
        for number, raw in enumerate(text.splitlines(), 1):
            parsed = split_line(raw)
            if parsed is None:
                continue
            name, args = parsed
            key = name.lower()
            if key == "match":
                match = " ".join(args)
                continue
            entry = {
                "key": key,
                "name": name,
                "value": " ".join(args),
                "path": path,
                "line": number,
                "match": match,
                "order": len(lines),
            }
            if key == "include":
                files = include_paths(args, listdir, base)
                entry["files"] = files
                lines.append(entry)
                for included in files:
                    walk(included, match, depth + 1)
                continue
            lines.append(entry)

    walk(main, None, 0)
    return lines


def chain_files(lines, main=MAIN):
    """The files of a chain in the order sshd reads them (the main file first)."""
    files = [main]
    for entry in lines:
        if entry["key"] == "include":
            for path in entry["files"]:
                if path not in files:
                    files.append(path)
    return files


# --- Match ----------------------------------------------------------------------------------


def _pattern_list(value, patterns, compare):
    """OpenSSH's match_pattern_list: 1 on a positive match, -1 when a negated pattern matches,
    0 when nothing does."""
    found = 0
    for pattern in patterns.split(","):
        pattern = pattern.strip()
        negated = pattern.startswith("!")
        if negated:
            pattern = pattern[1:]
        if compare(value, pattern):
            if negated:
                return -1
            found = 1
    return found


def _wild(value, pattern):
    return value is not None and fnmatch.fnmatchcase(str(value).lower(), pattern.lower())


def _address(value, pattern):
    if value is None:
        return False
    if "/" in pattern:
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    return fnmatch.fnmatchcase(str(value), pattern)


def match_applies(criteria, spec):
    """Whether a Match line's criteria (``User maint Address 10.0.0.0/8``) apply to a
    connection ``spec`` (``user``, ``host``, ``addr``, ``groups``, ``laddr``, ``lport``,
    ``rdomain``; what is not given does not match, as with ``sshd -T -C``)."""
    tokens = (criteria or "").split()
    if not tokens:
        return False
    i = 0
    while i < len(tokens):
        word = tokens[i].lower()
        if word == "all":
            i += 1
            continue
        if i + 1 >= len(tokens):
            return False
        patterns = tokens[i + 1]
        i += 2
        if word == "user":
            ok = _pattern_list(spec.get("user"), patterns, _wild) == 1
        elif word == "group":
            ok = any(_pattern_list(g, patterns, _wild) == 1 for g in spec.get("groups") or [])
            ok = ok and not any(
                _pattern_list(g, patterns, _wild) == -1 for g in spec.get("groups") or []
            )
        elif word == "host":
            ok = _pattern_list(spec.get("host"), patterns, _wild) == 1
        elif word == "address":
            ok = _pattern_list(spec.get("addr"), patterns, _address) == 1
        elif word == "localaddress":
            ok = _pattern_list(spec.get("laddr"), patterns, _address) == 1
        elif word == "localport":
            ok = _pattern_list(spec.get("lport"), patterns, _wild) == 1
        elif word == "rdomain":
            ok = _pattern_list(spec.get("rdomain"), patterns, _wild) == 1
        else:
            ok = False
        if not ok:
            return False
    return True


# --- values ---------------------------------------------------------------------------------


def seconds(value):
    """sshd's time format (``90``, ``2m``, ``1h30m``) in seconds; None when not a time."""
    text = str(value).strip()
    if not text or not re.fullmatch(r"(\d+[smhdwSMHDW]?)+", text):
        return None
    return sum(int(n) * _UNITS[u.lower()] for n, u in _TIME.findall(text))


def normalize(key, value):
    """A value the way ``sshd -T`` prints it, for comparing a config line with the effective
    value (lower case, aliases, times in seconds, lists without spaces)."""
    key = key.lower()
    text = " ".join(str(value).split()).lower()
    if key in _TIME_KEYS:
        secs = seconds(text)
        if secs is not None:
            return str(secs)
    text = _ALIASES.get(text, text)
    return text.replace(", ", ",")


def same_value(key, config_value, effective):
    return normalize(key, config_value) == normalize(key, effective)


def resolve(lines, key, spec):
    """The line whose value sshd uses for ``key`` on a connection ``spec``: the first one in a
    Match block that applies, else the first global one; None when no file sets it."""
    key = key.lower()
    for entry in lines:
        if (
            entry["key"] == key
            and entry["match"] is not None
            and match_applies(entry["match"], spec)
        ):
            return entry
    for entry in lines:
        if entry["key"] == key and entry["match"] is None:
            return entry
    return None


def attribute(lines, key, spec, effective):
    """The line that sets the effective value of ``key`` (see :func:`resolve`), cross-checked
    with what ``sshd -T`` printed: when the resolved line's value is not the effective one and
    another line's is, that line (a Match block first) is taken. None when no line applies
    (sshd's built-in default)."""
    key = key.lower()
    found = resolve(lines, key, spec)
    if effective is None or found is None:
        return found
    if found is not None and (
        same_value(key, found["value"], effective) or found["value"][:1] in "+-^"
    ):
        return found
    same = [e for e in lines if e["key"] == key and same_value(key, e["value"], effective)]
    same.sort(key=lambda e: (e["match"] is None, e["order"]))
    return same[0] if same else found


def source(entry):
    """``FILE:LINE`` of a chain entry."""
    return "%s:%d" % (entry["path"], entry["line"])


def others(lines, key, winner):
    """The other lines that set ``key``: overridden by the winner (global ones after it, Match
    blocks that do not apply) -- each one a setting that takes effect if the winner goes."""
    key = key.lower()
    return [
        e for e in lines if e["key"] == key and (winner is None or e["order"] != winner["order"])
    ]


# --- edits ----------------------------------------------------------------------------------


def set_first(text, name, value):
    """Set ``Name value`` in a drop-in's global part: the first active line for the keyword
    (before any Match line) is replaced, else the line is added before the first Match line
    (or at the end). Returns the new text."""
    lines = (text or "").splitlines()
    wanted = "%s %s" % (name, value)
    first_match = None
    for i, raw in enumerate(lines):
        parsed = split_line(raw)
        if parsed is None:
            continue
        if parsed[0].lower() == "match":
            first_match = i
            break
        if parsed[0].lower() == name.lower():
            lines[i] = wanted
            return "\n".join(lines) + "\n"
    if first_match is None:
        lines.append(wanted)
    else:
        lines.insert(first_match, wanted)
    return "\n".join(lines) + "\n"


def set_line(text, number, name, value):
    """Replace line ``number`` (1-based, which must set ``name``) with ``name value``, keeping
    its indentation. ValueError when the line does not set that keyword any more."""
    lines = (text or "").splitlines()
    if not 1 <= number <= len(lines):
        raise ValueError("line %d does not exist" % number)
    raw = lines[number - 1]
    parsed = split_line(raw)
    if parsed is None or parsed[0].lower() != name.lower():
        raise ValueError("line %d does not set %s any more: %r" % (number, name, raw))
    indent = raw[: len(raw) - len(raw.lstrip())]
    lines[number - 1] = "%s%s %s" % (indent, parsed[0], value)
    return "\n".join(lines) + "\n"


def candidate_tree(read, listdir, overlay, tmp_name, main=MAIN, base=BASE):
    """The files of a candidate configuration: the live chain with ``overlay`` ({path: new
    text, or None for a removed file}) applied, every file copied under a temporary name
    (``tmp_name(path)``) with its Include lines pointing at the copies of the files they read.
    Returns ``{temporary path: text}``; ``sshd -t -f tmp_name(main)`` validates exactly what
    sshd would read after the change, and ``sshd -T -f ... -C ...`` predicts its values."""
    read_new, listdir_new = overlaid(read, listdir, overlay)
    out = {}

    def copy(path, depth):
        if depth > MAX_DEPTH or tmp_name(path) in out:
            return
        text = read_new(path)
        if text is None:
            return
        rewritten = []
        pending = []
        for raw in text.splitlines():
            parsed = split_line(raw)
            if parsed is not None and parsed[0].lower() == "include":
                files = include_paths(parsed[1], listdir_new, base)
                if files:
                    rewritten.append("Include " + " ".join(tmp_name(p) for p in files))
                else:
                    rewritten.append("# " + raw)
                pending.extend(files)
                continue
            rewritten.append(raw)
        out[tmp_name(path)] = "\n".join(rewritten) + "\n"
        for included in pending:
            copy(included, depth + 1)

    copy(main, 0)
    return out


def overlaid(read, listdir, overlay):
    """``read`` and ``listdir`` of the disk as it would be with ``overlay`` applied."""
    overlay = dict(overlay or {})

    def read_new(path):
        if path in overlay:
            return overlay[path]
        return read(path)

    def listdir_new(directory):
        names = set(listdir(directory) or [])
        for path, text in overlay.items():
            folder, name = os.path.split(path)
            if folder == directory.rstrip("/"):
                if text is None:
                    names.discard(name)
                else:
                    names.add(name)
        return sorted(names)

    return read_new, listdir_new
