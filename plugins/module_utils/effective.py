# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Where the effective value of a setting comes from, for the configurations the hardening
controls judge besides sshd (sshd_config.py): the persisted sysctl values in
``sysctl --system``'s order, the sudoers include tree in sudo's order, the PAM stack of a
service with its includes, and the pwquality settings. Pure: the callers pass
``read(path) -> text or None`` and ``listdir(directory) -> names`` (and ``realpath``), so the
rules are unit-tested (tests/unit/test_effective.py); the module
``maint.preventive.hardening_effective`` does the I/O.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex

SYSCTL_DIRS = (
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
)
SYSCTL_CONF = "/etc/sysctl.conf"
SUDOERS = "/etc/sudoers"
PAM_DIR = "/etc/pam.d"
PWQUALITY_CONF = "/etc/security/pwquality.conf"
PWQUALITY_DIR = "/etc/security/pwquality.conf.d"


def _lines(text):
    return enumerate((text or "").splitlines(), 1)


# --- sysctl ---------------------------------------------------------------------------------


def sysctl_files(listdir, realpath=os.path.realpath, dirs=SYSCTL_DIRS, conf=SYSCTL_CONF):
    """The files ``sysctl --system`` (and systemd-sysctl) apply, in order: every ``*.conf`` of
    the sysctl.d directories sorted by name (a name in an earlier directory hides the same name
    in a later one), then /etc/sysctl.conf unless a sysctl.d link already points at it."""
    chosen = {}
    for directory in dirs:
        for name in listdir(directory) or []:
            if name.endswith(".conf") and name not in chosen:
                chosen[name] = os.path.join(directory, name)
    files = [chosen[name] for name in sorted(chosen)]
    if conf and realpath(conf) not in {realpath(f) for f in files}:
        files.append(conf)
    return files


def sysctl_key(key):
    return key.strip().lstrip("-").replace("/", ".")


def sysctl_assignments(read, files):
    """Every ``key = value`` assignment of the files, in the order they are applied."""
    out = []
    for path in files:
        for number, raw in _lines(read(path)):
            line = raw.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            key, _, value = line.partition("=")
            out.append(
                {"key": sysctl_key(key), "value": value.strip(), "path": path, "line": number}
            )
    return out


def sysctl_persisted(assignments, key):
    """The assignment that wins for ``key`` at boot (the last one), and the ones it overrides."""
    found = [a for a in assignments if a["key"] == sysctl_key(key)]
    if not found:
        return None, []
    return found[-1], found[:-1]


# --- sudoers --------------------------------------------------------------------------------


def _sudo_include(line):
    """(directive, argument) of an include line of sudoers, or None."""
    stripped = line.strip()
    for directive in ("@includedir", "#includedir", "@include", "#include"):
        if stripped.startswith(directive + " ") or stripped.startswith(directive + "\t"):
            argument = stripped[len(directive) :].strip()
            with contextlib.suppress(ValueError, IndexError):
                argument = shlex.split(argument)[0]
            return directive.lstrip("@#"), argument
    return None


def sudoers_tree(read, listdir, main=SUDOERS, limit=128):
    """Every file and include directory sudo reads, in its order: dicts with ``path``,
    ``kind`` (``file`` or ``dir``) and ``via`` (the ``FILE:LINE`` of the include directive; the
    main file has none). A directory's files are read in sorted order, skipping names that end
    in ``~`` or contain a dot (sudo ignores them); relative include paths are relative to the
    including file's directory."""
    out = []
    seen = set()

    def walk(path, via):
        if path in seen or len(out) >= limit:
            return
        seen.add(path)
        text = read(path)
        if text is None:
            return
        out.append({"path": path, "kind": "file", "via": via})
        for number, raw in _lines(text):
            found = _sudo_include(raw)
            if not found:
                continue
            directive, argument = found
            if not argument.startswith("/"):
                argument = os.path.join(os.path.dirname(path), argument)
            here = "%s:%d" % (path, number)
            if directive == "includedir":
                if argument in seen:
                    continue
                seen.add(argument)
                out.append({"path": argument, "kind": "dir", "via": here})
                for name in sorted(listdir(argument) or []):
                    if name.endswith("~") or "." in name:
                        continue
                    walk(os.path.join(argument, name), here)
            else:
                walk(argument, here)

    walk(main, "")
    return out


# --- PAM ------------------------------------------------------------------------------------


_PAM_LINE = re.compile(r"^(\S+)\s+(\[[^\]]*\]|\S+)\s+(\S+)\s*(.*)$")


def _pam_tokens(line):
    """type, control, module, args of a PAM line (a control in brackets kept whole)."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if text.startswith("@include"):
        parts = text.split()
        return ("@include", "", parts[1] if len(parts) > 1 else "", [])
    match = _PAM_LINE.match(text)
    if not match:
        return None
    return (match.group(1), match.group(2), match.group(3), match.group(4).split())


def _joined(text):
    """PAM lines with backslash continuations joined, with their first line number."""
    out = []
    pending, start = "", 0
    for number, raw in _lines(text):
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        out.append((start, pending + raw))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def pam_stack(read, service, kind, pam_dir=PAM_DIR, depth=0):
    """The effective stack of one PAM type (``password``, ``session``...) of a service: its
    lines in order with ``@include`` files and ``include``/``substack`` controls expanded; each
    ``{module, control, args, source}`` (``source`` is ``FILE:LINE``)."""
    if depth > 16:
        return []
    path = service if service.startswith("/") else os.path.join(pam_dir, service)
    text = read(path)
    if text is None:
        return []
    stack = []
    for number, raw in _joined(text):
        tokens = _pam_tokens(raw)
        if tokens is None:
            continue
        first, control, module, args = tokens
        if first == "@include":
            stack.extend(pam_stack(read, module, kind, pam_dir, depth + 1))
            continue
        if first.lstrip("-").lower() != kind:
            continue
        if control in ("include", "substack"):
            stack.extend(pam_stack(read, module, kind, pam_dir, depth + 1))
            continue
        stack.append(
            {
                "module": module,
                "control": control,
                "args": args,
                "source": "%s:%d" % (path, number),
            }
        )
    return stack


def pam_module_in(stack, module):
    """The stack entry that calls ``module`` (``pam_pwquality.so``, by base name), or None."""
    for entry in stack:
        if os.path.basename(entry["module"]) == module:
            return entry
    return None


# --- pwquality ------------------------------------------------------------------------------


def pwquality_settings(
    read, listdir, args=(), args_source="", conf=PWQUALITY_CONF, conf_dir=PWQUALITY_DIR
):
    """{name: {value, source}} of the pwquality settings in effect: pwquality.conf, then the
    pwquality.conf.d files in sorted order, then the arguments of the pam_pwquality line (which
    override the files)."""
    settings = {}
    files = [conf] + [
        os.path.join(conf_dir, name)
        for name in sorted(listdir(conf_dir) or [])
        if name.endswith(".conf")
    ]
    for path in files:
        for number, raw in _lines(read(path)):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            name, _, value = line.replace("=", " ", 1).partition(" ")
            settings[name.strip()] = {
                "value": value.strip(),
                "source": "%s:%d" % (path, number),
            }
    for arg in args or ():
        name, _, value = arg.partition("=")
        settings[name] = {"value": value, "source": args_source}
    return settings
