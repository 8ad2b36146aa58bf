# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Pure helpers of the hardening role: sshd -T parsing, the lockout guard, sysctl paths,
backup manifests. No I/O here, so every rule is unit-tested (tests/unit/test_hardening.py)."""

from __future__ import annotations

import hashlib
import os
import re

# Groups that give full sudo on Debian (sudo) and RHEL (wheel) in their default sudoers.
SUDO_GROUPS = ("sudo", "wheel", "admin")


def parse_sshd_t(text):
    """Parse ``sshd -T`` output into {lower-case keyword: value}; repeated keywords (e.g.
    authorizedkeysfile on one line, listenaddress on many) keep every value space-joined."""
    config = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        key = key.lower()
        value = value.strip()
        if key in config:
            config[key] = "%s %s" % (config[key], value)
        else:
            config[key] = value
    return config


def expand_keys_file(pattern, user, home):
    """Expand one AuthorizedKeysFile token (%h, %u, %%); relative paths are under the home."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append({"h": home, "u": user, "%": "%"}.get(nxt, "%" + nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    path = "".join(out)
    if not path.startswith("/"):
        path = os.path.join(home, path)
    return path


def authorized_keys_paths(effective, user, home):
    """Every authorized keys file sshd reads for the user (default .ssh/authorized_keys and
    .ssh/authorized_keys2)."""
    tokens = (
        effective.get("authorizedkeysfile") or ".ssh/authorized_keys .ssh/authorized_keys2"
    ).split()
    return [expand_keys_file(t, user, home) for t in tokens if t.lower() != "none"]


def count_keys(text):
    """Number of key lines (not blank, not comments) in an authorized_keys file."""
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def sudo_allows(sudo_l_output, user):
    """Whether ``sudo -l -U user`` output grants the user any command."""
    text = sudo_l_output or ""
    if "is not allowed to run sudo" in text or "not allowed" in text.lower():
        return False
    return "may run the following commands" in text and user in text


def listed(value, user, groups):
    """Whether an AllowUsers/AllowGroups-style value names the user (or one of the groups)."""
    names = (value or "").split()
    return user in names or any(g in names for g in groups)


def lockout_problems(
    user,
    exists,
    keys,
    sudo,
    effective,
    planned,
    groups=(),
    allow_root_lockout=False,
    client_algorithms=None,
):
    """Why applying the planned sshd settings could lock the maintenance account out.

    ``client_algorithms`` ({sshd -T keyword: names the control node's ssh supports, from
    ``ssh -Q kex`` and ``ssh -Q key``}): a planned list of algorithms that shares none with the
    control node would leave it unable to connect.

    ``keys`` is {path: number of keys}, ``sudo`` whether the user keeps sudo (always true for
    root), ``effective`` the live sshd -T config, ``planned`` the sshd settings the run applies
    (lower-case keywords). Returns a list of plain-language problems; empty means safe.
    """
    problems = []
    if not user:
        return ["the connecting account could not be determined (set hardening_lockout_user)"]
    if not exists:
        return ["account %s does not exist on the host" % user]
    merged = dict(effective)
    merged.update({k.lower(): str(v) for k, v in (planned or {}).items()})
    if not any(n > 0 for n in keys.values()):
        problems.append(
            "account %s has no authorized key (checked %s)"
            % (user, ", ".join(sorted(keys)) or "nothing")
        )
    if merged.get("pubkeyauthentication", "yes").lower() == "no":
        problems.append("PubkeyAuthentication would be 'no': key-based login would stop working")
    if user == "root":
        prl = merged.get("permitrootlogin", "prohibit-password").lower()
        if prl == "no" and not allow_root_lockout:
            problems.append(
                "the run connects as root and would set PermitRootLogin no "
                "(connect as a sudo account, set hardening_lockout_user, "
                "or hardening_allow_root_lockout)"
            )
        elif prl == "forced-commands-only":
            problems.append(
                "PermitRootLogin forced-commands-only would stop interactive root logins"
            )
    elif not sudo:
        problems.append(
            "account %s has no sudo rights (sudo -l -U %s lists nothing)" % (user, user)
        )
    allow_users = merged.get("allowusers")
    if allow_users and not listed(allow_users, user, ()):
        problems.append("AllowUsers does not list %s" % user)
    allow_groups = merged.get("allowgroups")
    if allow_groups and not listed(allow_groups, "", groups):
        problems.append("AllowGroups lists none of %s's groups" % user)
    deny_users = merged.get("denyusers")
    if deny_users and listed(deny_users, user, ()):
        problems.append("DenyUsers lists %s" % user)
    for keyword, supported in sorted((client_algorithms or {}).items()):
        wanted = (planned or {}).get(keyword) or next(
            (v for k, v in (planned or {}).items() if k.lower() == keyword), None
        )
        if wanted is None or not supported:
            continue
        names = [n for n in str(wanted).split(",") if n]
        if not set(names) & set(supported):
            problems.append(
                "the control node's ssh supports none of the %s sshd would allow (%s): "
                "it could no longer connect" % (keyword, ", ".join(names) or "none")
            )
    return problems


def sysctl_path(key):
    """/proc/sys path of a sysctl key (dots are separators, slashes stay)."""
    return "/proc/sys/" + key.replace(".", "/")


def sysctl_equal(current, wanted):
    """Compare sysctl values the way the kernel prints them (whitespace-insensitive)."""
    return " ".join(str(current).split()) == " ".join(str(wanted).split())


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def backup_name(backup_dir, path):
    """Where the backup of ``path`` lives inside a backup directory."""
    return os.path.join(backup_dir, path.lstrip("/"))


def manifest_files(manifest):
    """{path: backup path or 'absent'} for the result contract."""
    return {
        e["path"]: (e["backup"] if e.get("existed") else "absent")
        for e in manifest.get("files", [])
        if e.get("kind", "content") == "content"
    }


def restore_plan(manifest):
    """What a rollback does for each entry: restore, remove or mode (ownership and mode only)."""
    plan = []
    for entry in manifest.get("files", []):
        kind = entry.get("kind", "content")
        if kind == "mode":
            if entry.get("existed"):
                plan.append(("mode", entry))
        elif entry.get("existed"):
            plan.append(("restore", entry))
        else:
            plan.append(("remove", entry))
    return plan


def file_differences(entry, live):
    """How a file differs now from its manifest entry (what the backup recorded before the run):
    ``[]`` when it is as recorded, else some of ``created``, ``removed``, ``content``, ``mode``,
    ``owner``. ``live`` is None when the file is absent, else {mode ("0644"), uid, gid, sha256}
    (sha256 None for what is not a regular file)."""
    if not entry.get("existed"):
        return ["created"] if live is not None else []
    if live is None:
        return ["removed"]
    found = []
    recorded = entry.get("sha256") if entry.get("kind", "content") == "content" else None
    if recorded and live.get("sha256") != recorded:
        found.append("content")
    if live.get("mode") != entry.get("mode"):
        found.append("mode")
    if (live.get("uid"), live.get("gid")) != (entry.get("uid"), entry.get("gid")):
        found.append("owner")
    return found


def _setting_name(stripped):
    body = stripped[1:] if stripped.startswith("#") else stripped
    if not body or body[0].isspace():
        return "", ""
    parts = body.replace("=", " ", 1).split(None, 1)
    return parts[0], (parts[1].strip() if len(parts) > 1 else "")


def find_setting(text, key):
    """``(value, line number)`` of the last active ``KEY<sep>VALUE`` line for ``key`` (the one
    login.defs, sysctl.d and pwquality.conf readers use), or ``(None, None)``."""
    found = (None, None)
    for number, line in enumerate((text or "").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, value = _setting_name(stripped)
        if name == str(key):
            found = (value, number)
    return found


def set_lines(text, lines, sep=" ", commented=False):
    """Set ``KEY<sep>VALUE`` lines in a config text (login.defs, sshd, sysctl.d style).

    For each {key, value}: the last active line for the key is replaced; else, when
    ``commented``, the last commented-out example (``#KEY value``, no space after the hash:
    ``# KEY is ...`` is prose); else the line is appended.
    Returns (new_text, [keys whose line changed]).
    """
    out = text.splitlines()
    changed = []
    for entry in lines:
        key = str(entry["key"])
        wanted = "%s%s%s" % (key, sep, entry["value"])
        active = commented_idx = None
        for i, line in enumerate(out):
            stripped = line.strip()
            # A commented-out example is "#KEY value" (no space after the hash); "# KEY is..."
            # is prose and is never touched.
            body = stripped[1:] if stripped.startswith("#") else stripped
            prose = not body or body[0].isspace()
            name = "" if prose else body.replace("=", " ").split(None, 1)[0]
            if name != key:
                continue
            if stripped.startswith("#"):
                if commented:
                    commented_idx = i
            else:
                active = i
        index = active if active is not None else commented_idx
        if index is None:
            out.append(wanted)
            changed.append(key)
        elif out[index] != wanted:
            out[index] = wanted
            changed.append(key)
    new = "\n".join(out) + ("\n" if out else "")
    return new, changed


# --- effective values: is a value compliant, and how to say what is expected -------------------


def _number(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _octal(value):
    try:
        return int(str(value).strip(), 8)
    except (TypeError, ValueError):
        return None


def _items(value):
    return [v for v in re.split(r"[,\s]+", str(value or "").strip().lower()) if v]


def compliant(compare, effective, wanted):
    """Whether an effective value meets the wanted one under a comparison:

    * ``eq`` (default): the same value (case and spacing ignored);
    * ``subset``: a list (``a,b``) whose every item is one of the wanted ones, in any order
      (the role's ciphers in another order, or fewer of them, are compliant);
    * ``max``: a number from 1 up to the wanted one (MaxAuthTries 2 is stricter than 3; 0 means
      "no limit" to sshd and is not compliant);
    * ``min``: a number at least the wanted one (password length, hashing rounds);
    * ``umask``: an octal umask that masks at least the wanted bits (077 is stricter than 027);
    * ``mode``: an octal mode that grants no bit beyond the wanted ones (0600 is stricter than
      0640).
    """
    if effective is None:
        return False
    compare = compare or "eq"
    if compare == "eq":
        return " ".join(str(effective).split()).lower() == " ".join(str(wanted).split()).lower()
    if compare == "subset":
        have, want = _items(effective), set(_items(wanted))
        return bool(have) and all(item in want for item in have)
    if compare in ("max", "min"):
        have, want = _number(effective), _number(wanted)
        if have is None or want is None:
            return False
        return 1 <= have <= want if compare == "max" else have >= want
    if compare in ("umask", "mode"):
        have, want = _octal(effective), _octal(wanted)
        if have is None or want is None:
            return False
        return (have & want) == want if compare == "umask" else (have & ~want) == 0
    raise ValueError("unknown comparison %r" % compare)


def expected_text(name, wanted, compare=None):
    """How a report states the expected value: ``MaxAuthTries 3 or less``."""
    compare = compare or "eq"
    if compare == "subset":
        return "%s only from %s" % (name, wanted)
    if compare == "max":
        return "%s %s or less (not 0)" % (name, wanted)
    if compare == "min":
        return "%s %s or more" % (name, wanted)
    if compare == "umask":
        return "%s %s or stricter" % (name, wanted)
    if compare == "mode":
        return "%s %s or stricter" % (name, wanted)
    return "%s %s" % (name, wanted)
