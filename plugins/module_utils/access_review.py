# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Access review: pure parsers and checks, unit-tested on real samples.

Everything here takes text (file contents, command output) or parsed data and returns plain
dicts and lists. The only I/O is in :func:`collect`, which reads files under a ``root`` prefix
and runs commands through a ``run_command(argv) -> (rc, out, err)`` callable supplied by the
caller (``AnsibleModule.run_command`` in the module, a function returning sample output in the
tests).

Nothing returned ever contains a password hash: only its state (``set``, ``locked``, ``empty``,
``no_password``, ``unknown``) and the age of the last password change.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import hashlib
import ipaddress
import os
import re
import struct

# SEVERITIES is re-exported for callers that check findings against the contract's scale.
from ansible_collections.maint.preventive.plugins.module_utils.findings import (  # noqa: F401
    SEVERITIES,
    finder,
)

# Shells that do not give an interactive session.
NOLOGIN_SHELLS = frozenset(
    (
        "",
        "/usr/sbin/nologin",
        "/sbin/nologin",
        "/usr/bin/nologin",
        "/bin/false",
        "/usr/bin/false",
        "/bin/true",
        "/usr/bin/true",
        "/bin/sync",
        "/usr/bin/sync",
        "/sbin/shutdown",
        "/usr/sbin/shutdown",
        "/sbin/halt",
        "/usr/sbin/halt",
    )
)
NOLOGIN_NAMES = frozenset(("nologin", "false", "true", "sync", "shutdown", "halt"))

NOBODY_UID = 65534

DEFAULT_ADMIN_GROUPS = ("sudo", "wheel", "admin")

SUDO_TAGS = frozenset(
    (
        "NOPASSWD",
        "PASSWD",
        "NOEXEC",
        "EXEC",
        "SETENV",
        "NOSETENV",
        "LOG_INPUT",
        "NOLOG_INPUT",
        "LOG_OUTPUT",
        "NOLOG_OUTPUT",
        "MAIL",
        "NOMAIL",
        "FOLLOW",
        "NOFOLLOW",
        "INTERCEPT",
        "NOINTERCEPT",
    )
)
SUDO_ALIAS_KINDS = ("User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias")

KEY_TYPE_RE = re.compile(
    r"^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9.@-]+)(@openssh\.com)?$"
)
ECDSA_BITS = {"nistp256": 256, "nistp384": 384, "nistp521": 521}


# --------------------------------------------------------------------------------------------
# Findings


finding = finder("access_review")


# --------------------------------------------------------------------------------------------
# Accounts: /etc/passwd, /etc/shadow, /etc/group


def _lines(text):
    for raw in (text or "").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            yield line


def parse_passwd(text):
    """Return the accounts of an /etc/passwd file, in file order.

    The password field is reduced to ``passwd_field``: ``x`` (in shadow), ``empty`` or
    ``inline`` (a hash or lock marker stored in passwd itself; its state comes from
    :func:`password_state`).
    """
    accounts = []
    for line in _lines(text):
        if line.startswith(("+", "-")):  # NIS compat entries
            continue
        parts = line.split(":")
        if len(parts) < 7:
            continue
        name, pw, uid, gid, gecos, home, shell = parts[:7]
        try:
            uid_n, gid_n = int(uid), int(gid)
        except ValueError:
            continue
        accounts.append(
            {
                "name": name,
                "uid": uid_n,
                "gid": gid_n,
                "gecos": gecos,
                "home": home,
                "shell": shell,
                "_pw": pw,
            }
        )
    return accounts


def password_state(field):
    """Classify a password field without keeping it.

    ``empty``: no password at all, anyone can log in (where PAM allows null passwords);
    ``locked``: starts with ``!`` or ``*`` (``!`` before a hash, ``*``, ``!!``, ``!*``...):
    password login impossible; ``set``: a usable hash.
    """
    if field is None:
        return "no_password"
    if field == "":
        return "empty"
    if field[0] in "!*":
        return "locked"
    return "set"


def parse_shadow(text):
    """Return ``{name: {"state": ..., "lastchg": days since epoch or None}}`` from /etc/shadow.

    The hash itself is dropped here and never leaves this function.
    """
    entries = {}
    for line in _lines(text):
        parts = line.split(":")
        if len(parts) < 2:
            continue
        name, pw = parts[0], parts[1]
        lastchg = None
        if len(parts) > 2 and parts[2].strip().isdigit():
            lastchg = int(parts[2])
        max_days = None
        if len(parts) > 4 and parts[4].strip().isdigit():
            max_days = int(parts[4])
        expire = None
        if len(parts) > 7 and parts[7].strip().isdigit():
            expire = int(parts[7])
        entries[name] = {
            "state": password_state(pw),
            "lastchg": lastchg,
            "max_days": max_days,
            "expire": expire,
        }
    return entries


def parse_group(text):
    """Return ``{group: {"gid": int, "members": [names]}}`` from /etc/group."""
    groups = {}
    for line in _lines(text):
        parts = line.split(":")
        if len(parts) < 4:
            continue
        try:
            gid = int(parts[2])
        except ValueError:
            continue
        members = [m.strip() for m in parts[3].split(",") if m.strip()]
        groups[parts[0]] = {"gid": gid, "members": members}
    return groups


def has_login_shell(shell):
    """True when the shell gives an interactive session (not nologin, false, sync...)."""
    shell = (shell or "").strip()
    if shell in NOLOGIN_SHELLS:
        return False
    return os.path.basename(shell) not in NOLOGIN_NAMES


def build_accounts(passwd_text, shadow_text, today, min_uid_human=1000, ignore_users=()):
    """Merge passwd and shadow into account records (no hashes).

    ``shadow_text`` may be None when /etc/shadow could not be read: states of ``x`` entries are
    then ``unknown``.
    """
    shadow = parse_shadow(shadow_text) if shadow_text is not None else None
    ignore = set(ignore_users or ())
    accounts = []
    for acc in parse_passwd(passwd_text):
        pw = acc.pop("_pw")
        lastchg = expire = None
        if pw == "x":
            if shadow is None:
                state = "unknown"
            elif acc["name"] in shadow:
                state = shadow[acc["name"]]["state"]
                lastchg = shadow[acc["name"]]["lastchg"]
                expire = shadow[acc["name"]]["expire"]
            else:
                state = "no_password"
        else:
            state = password_state(pw)
        age = None
        if lastchg and today is not None:  # 0 means "must change at next login"
            age = today - lastchg
        acc.update(
            {
                "password_state": state,
                "password_age_days": age,
                # An expired account (shadow expire date passed) refuses every login, keys too.
                "expired": expire is not None and today is not None and expire <= today,
                # the shadow expire day (days since 1970-01-01), None when it never expires
                "expire": expire,
                "login_shell": has_login_shell(acc["shell"]),
                "human": acc["uid"] >= min_uid_human and acc["uid"] != NOBODY_UID,
                "ignored": acc["name"] in ignore,
            }
        )
        accounts.append(acc)
    return accounts


def admin_members(groups, accounts, admin_groups=DEFAULT_ADMIN_GROUPS):
    """Members of each admin group present on the host: listed members plus primary-group users."""
    result = {}
    for name in admin_groups:
        grp = groups.get(name)
        if grp is None:
            continue
        members = set(grp["members"])
        members.update(a["name"] for a in accounts if a["gid"] == grp["gid"])
        result[name] = sorted(members)
    return result


def can_log_in(acc):
    """True when the account can be logged into: a usable (or empty) password, or an
    interactive shell with a password that is not locked or with SSH keys. An expired account
    cannot be logged into at all."""
    if acc.get("expired"):
        return False
    if acc["uid"] == 0 or acc["password_state"] in ("set", "empty"):
        return True
    if not acc["login_shell"]:
        return False
    return acc["password_state"] != "locked" or bool(acc.get("has_keys"))


def check_accounts(
    accounts,
    approved_users=None,
    max_password_age_days=365,
):
    findings = []
    approved = None if approved_users is None else set(approved_users) | {"root"}
    for acc in accounts:
        name = acc["name"]
        if acc["uid"] == 0 and name != "root":
            findings.append(
                finding(
                    "uid0",
                    "critical",
                    "Account '%s' has user ID 0: it has full administrator (root) rights" % name,
                    "Ask your IT provider to remove account '%s' or give it a normal user ID "
                    "today; only 'root' may have ID 0." % name,
                )
            )
        if acc["password_state"] == "empty":
            findings.append(
                finding(
                    "empty_password",
                    "critical",
                    "Account '%s' has an empty password: anyone can log in as it" % name,
                    "Have your IT provider lock account '%s' or set a strong password today."
                    % name,
                )
            )
        age = acc["password_age_days"]
        if acc["password_state"] == "set" and age is not None and age > max_password_age_days:
            severity = "medium" if age > 2 * max_password_age_days else "low"
            findings.append(
                finding(
                    "password_age",
                    severity,
                    "The password of account '%s' was last changed %d days ago (limit %d)"
                    % (name, age, max_password_age_days),
                    "Ask the person who uses account '%s' to change its password, or lock the "
                    "account if nobody needs it." % name,
                )
            )
        if not acc["human"] and acc["uid"] != 0 and acc["login_shell"]:
            findings.append(
                finding(
                    "system_account_shell",
                    "medium",
                    "System account '%s' (UID %d) has the interactive shell %s"
                    % (name, acc["uid"], acc["shell"]),
                    "Ask your IT provider to set the shell of service account '%s' to "
                    "/usr/sbin/nologin unless a documented job needs to log in as it." % name,
                )
            )
        if approved is not None and name not in approved and (acc["human"] or can_log_in(acc)):
            findings.append(
                finding(
                    "unapproved_user",
                    "high",
                    "Account '%s' (UID %d) is not on the approved user list" % (name, acc["uid"]),
                    "Check who owns account '%s'. If nobody approved it, have it disabled; "
                    "if it is needed, add it to the approved list." % name,
                )
            )
    return findings


def check_admins(members, approved_admins=None):
    findings = []
    if approved_admins is None:
        return findings
    approved = set(approved_admins) | {"root"}
    for group in sorted(members):
        for user in members[group]:
            if user not in approved:
                findings.append(
                    finding(
                        "unapproved_admin",
                        "high",
                        "User '%s' is in the administrators group '%s' without approval"
                        % (user, group),
                        "Confirm that '%s' needs administrator rights. If not, have them removed "
                        "from group '%s'; if so, add them to the approved administrators."
                        % (user, group),
                    )
                )
    return findings


# --------------------------------------------------------------------------------------------
# sudoers


def _join_continuations(text):
    """Yield (line number, logical line) with backslash continuations joined."""
    buf, start = "", None
    for number, raw in enumerate((text or "").splitlines(), 1):
        line = raw.rstrip()
        if start is None:
            start = number
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        yield start, buf
        buf, start = "", None
    if buf:
        yield start, buf


def _strip_comment(line):
    """Drop a comment, keeping #include directives and #<uid> user names."""
    stripped = line.strip()
    if re.match(r"^#include(dir)?\s", stripped):
        return stripped
    out = []
    i = 0
    while i < len(stripped):
        ch = stripped[i]
        if ch == "\\" and i + 1 < len(stripped):
            out.append(stripped[i : i + 2])
            i += 2
            continue
        if ch == "#" and not re.match(r"#\d", stripped[i : i + 2]):
            break
        out.append(ch)
        i += 1
    return "".join(out).strip()


def _split_list(text, sep=","):
    """Split on ``sep`` outside parentheses and quotes, honouring backslash escapes."""
    items, cur, depth, quote, i = [], [], 0, False, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if ch == '"':
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth = max(0, depth - 1)
        if ch == sep and depth == 0 and not quote:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    items.append("".join(cur).strip())
    return [it for it in items if it]


def parse_sudoers_text(text, path="sudoers"):
    """Parse one sudoers file.

    Returns ``(rules, aliases, defaults, includes)``: user specifications, alias definitions
    (``{kind: {NAME: [members]}}``), Defaults lines and include directives as
    ``("file"|"dir", target, line)`` in order.
    """
    rules, defaults, includes = [], [], []
    aliases = {"User_Alias": {}, "Runas_Alias": {}, "Host_Alias": {}, "Cmnd_Alias": {}}
    for number, raw in _join_continuations(text):
        line = _strip_comment(raw)
        if not line:
            continue
        m = re.match(r"^[@#](include|includedir)\s+(.+)$", line)
        if m:
            target = m.group(2).strip().strip('"')
            includes.append(("dir" if m.group(1) == "includedir" else "file", target, number))
            continue
        first = line.split(None, 1)[0]
        if first.startswith("Defaults"):
            defaults.append({"file": path, "line": number, "text": " ".join(line.split())})
            continue
        if first in SUDO_ALIAS_KINDS:
            kind = "Cmnd_Alias" if first == "Cmd_Alias" else first
            body = line[len(first) :].strip()
            for definition in _split_list(body, ":"):
                if "=" not in definition:
                    continue
                name, members = definition.split("=", 1)
                aliases[kind][name.strip()] = _split_list(members)
            continue
        rule = _parse_user_spec(line)
        if rule is not None:
            rule.update({"file": path, "line": number, "text": " ".join(line.split())})
            rules.append(rule)
    return rules, aliases, defaults, includes


def _parse_user_spec(line):
    if "=" not in line:
        return None
    left, right = line.split("=", 1)
    left = re.sub(r"\s*,\s*", ",", left.strip())
    parts = left.split(None, 1)
    if len(parts) != 2:
        return None
    users = _split_list(parts[0])
    hosts = _split_list(parts[1])
    commands = []
    nopasswd = False
    runas = None
    for item in _split_list(right):
        item = item.strip()
        m = re.match(r"^\(([^)]*)\)\s*", item)
        if m:
            runas = m.group(1).strip()
            item = item[m.end() :]
            # a new Runas spec resets tags (sudoers(5): tags are inherited until overridden)
        while True:
            m = re.match(r"^([A-Z_]+)\s*:\s*", item)
            if not m or m.group(1) not in SUDO_TAGS:
                break
            tag = m.group(1)
            if tag == "NOPASSWD":
                nopasswd = True
            elif tag == "PASSWD":
                nopasswd = False
            item = item[m.end() :]
        if item:
            commands.append({"command": item, "runas": runas, "nopasswd": nopasswd})
    return {"users": users, "hosts": hosts, "commands": commands}


def sudo_include_allowed(name):
    """sudo skips files in an includedir that end in '~' or contain a '.'."""
    return not (name.endswith("~") or "." in name)


def read_sudoers(root, path="/etc/sudoers", reader=None, _depth=0, _seen=None):
    """Read sudoers and everything it includes, under the ``root`` prefix.

    Returns ``(rules, aliases, defaults, unreadable)``. ``reader(path) -> text or None``
    defaults to reading the file under root.
    """
    reader = reader or (lambda p: read_text(root, p))
    seen = _seen if _seen is not None else set()
    rules, defaults, unreadable = [], [], []
    aliases = {"User_Alias": {}, "Runas_Alias": {}, "Host_Alias": {}, "Cmnd_Alias": {}}
    if path in seen or _depth > 8:
        return rules, aliases, defaults, unreadable
    seen.add(path)
    text = reader(path)
    if text is None:
        unreadable.append(path)
        return rules, aliases, defaults, unreadable
    file_rules, file_aliases, file_defaults, includes = parse_sudoers_text(text, path)
    rules.extend(file_rules)
    defaults.extend(file_defaults)
    _merge_aliases(aliases, file_aliases)
    base = os.path.dirname(path)
    for kind, target, _line in includes:
        target = target.replace("%h", "")  # %h (short host name) is not expanded
        if not target.startswith("/"):
            target = os.path.join(base, target)
        targets = [target]
        if kind == "dir":
            names = list_dir(root, target)
            targets = [os.path.join(target, n) for n in sorted(names) if sudo_include_allowed(n)]
        for inc in targets:
            r, a, d, u = read_sudoers(root, inc, reader, _depth + 1, seen)
            rules.extend(r)
            defaults.extend(d)
            unreadable.extend(u)
            _merge_aliases(aliases, a)
    return rules, aliases, defaults, unreadable


def _merge_aliases(into, new):
    for kind, entries in new.items():
        into.setdefault(kind, {}).update(entries)


def _expand(items, table, _depth=0):
    out = []
    for item in items:
        bare = item.lstrip("!")
        if bare in table and _depth < 8:
            out.extend(_expand(table[bare], table, _depth + 1))
        else:
            out.append(item)
    return out


def enrich_sudo_rules(rules, aliases, defaults=()):
    """Expand aliases and mark each rule: ``nopasswd``, ``all_commands``, ``principals``.

    ``Defaults[:scope] !authenticate`` makes every rule of that scope password-less; it is
    applied here so that it is reported like a NOPASSWD tag.
    """
    no_auth_all = False
    no_auth_users = set()
    for d in defaults:
        m = re.match(r"^Defaults(?P<kind>[:>@!]?)(?P<scope>\S*)\s+(?P<body>.*)$", d["text"])
        if not m or "!authenticate" not in re.split(r"[\s,]+", m.group("body")):
            continue
        if not m.group("kind"):
            no_auth_all = True
        elif m.group("kind") == ":":
            no_auth_users.update(_expand(_split_list(m.group("scope")), aliases["User_Alias"]))
    enriched = []
    for rule in rules:
        principals = [
            p
            for p in _expand(rule["users"], aliases.get("User_Alias", {}))
            if not p.startswith("!")
        ]
        cmds = []
        for c in rule["commands"]:
            expanded = _expand([c["command"]], aliases.get("Cmnd_Alias", {}))
            nopw = c["nopasswd"] or no_auth_all or any(p in no_auth_users for p in principals)
            cmds.append(
                dict(c, nopasswd=nopw, expanded=expanded, all=any(e == "ALL" for e in expanded))
            )
        nopw_cmds = [c for c in cmds if c["nopasswd"]]
        enriched.append(
            dict(
                rule,
                principals=principals,
                commands=cmds,
                nopasswd=bool(nopw_cmds),
                all_commands=any(c["all"] for c in cmds),
                nopasswd_all=any(c["all"] for c in nopw_cmds),
            )
        )
    return enriched


def _principal_approved(principal, approved):
    if principal in approved:
        return True
    if principal.startswith("%") and principal[1:] in approved:
        return True
    return principal.startswith("%:") and ("%" + principal[2:]) in approved


def check_sudo(rules, approved_nopasswd=()):
    findings = []
    approved = set(approved_nopasswd or ())
    for rule in rules:
        if not rule["nopasswd"]:
            continue
        for principal in rule["principals"]:
            if _principal_approved(principal, approved):
                continue
            if principal == "ALL":
                who = "every user ('ALL')"
            elif principal.startswith("%"):
                who = "members of group '%s'" % principal.lstrip("%:")
            else:
                who = "user '%s'" % principal
            commands = ", ".join(
                c["command"]
                if c["expanded"] == [c["command"]]
                else "%s (%s)" % (c["command"], ", ".join(c["expanded"]))
                for c in rule["commands"]
                if c["nopasswd"]
            )
            if rule["nopasswd_all"]:
                severity, what = "high", "any command as administrator"
            else:
                severity, what = "medium", "'%s' as administrator" % commands
            findings.append(
                finding(
                    "nopasswd",
                    severity,
                    "sudo lets %s run %s without a password (%s line %d: %s)"
                    % (who, what, rule["file"], rule["line"], rule["text"]),
                    "Ask your IT provider to remove NOPASSWD from this sudo rule, or record why "
                    "%s needs it and add them to the approved NOPASSWD list." % who,
                )
            )
    return findings


# --------------------------------------------------------------------------------------------
# SSH authorized_keys


def _read_ssh_string(blob, offset):
    if offset + 4 > len(blob):
        raise ValueError("truncated key blob")
    (length,) = struct.unpack(">I", blob[offset : offset + 4])
    start = offset + 4
    if start + length > len(blob):
        raise ValueError("truncated key blob")
    return blob[start : start + length], start + length


def key_fingerprint(blob):
    """``SHA256:`` fingerprint of a key blob, as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def key_bits(key_type, blob):
    """Key size in bits as ``ssh-keygen -l`` reports it (None when unknown)."""
    base = key_type.replace("-cert-v01@openssh.com", "")
    try:
        if base == "ssh-rsa":
            _, off = _read_ssh_string(blob, 0)  # type
            _, off = _read_ssh_string(blob, off)  # e
            n, off = _read_ssh_string(blob, off)  # n
            return int.from_bytes(n, "big").bit_length()
        if base == "ssh-dss":
            _, off = _read_ssh_string(blob, 0)
            p, off = _read_ssh_string(blob, off)
            return int.from_bytes(p, "big").bit_length()
    except ValueError:
        return None
    if "ed25519" in base:
        return 256
    if "ed448" in base:
        return 456
    for curve, bits in ECDSA_BITS.items():
        if curve in base:
            return bits
    return None


def _split_options(line):
    """Split a leading options field (quoted strings may hold spaces) from the rest."""
    i, quote = 0, False
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            i += 2
            continue
        if ch == '"':
            quote = not quote
        elif ch in " \t" and not quote:
            break
        i += 1
    return line[:i], line[i:].strip()


def _decode_key(key_type, b64):
    try:
        blob = base64.b64decode(b64.encode("ascii"), validate=True)
        inner, _ = _read_ssh_string(blob, 0)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    if inner.decode("ascii", "replace") != key_type:
        return None
    return blob


def parse_authorized_keys(text):
    """Parse authorized_keys text into keys and the numbers of lines that are not keys."""
    keys, invalid = [], []
    for number, raw in enumerate((text or "").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        options = ""
        rest = line
        first = line.split(None, 1)[0]
        if not KEY_TYPE_RE.match(first):
            options, rest = _split_options(line)
        parts = rest.split(None, 2)
        blob = None
        if len(parts) >= 2 and KEY_TYPE_RE.match(parts[0]):
            blob = _decode_key(parts[0], parts[1])
        if blob is None:
            invalid.append(number)
            continue
        key_type = parts[0]
        bits = key_bits(key_type, blob)
        keys.append(
            {
                "line": number,
                "type": key_type,
                "bits": bits,
                "fingerprint": key_fingerprint(blob),
                "key": "%s %s" % (parts[0], parts[1]),
                "comment": parts[2] if len(parts) > 2 else "",
                "options": _split_list(options) if options else [],
                "weak": is_weak_key(key_type, bits),
            }
        )
    return keys, invalid


def is_weak_key(key_type, bits):
    base = key_type.replace("-cert-v01@openssh.com", "")
    if base == "ssh-dss":
        return True
    return base == "ssh-rsa" and (bits is None or bits < 2048)


def _norm_fp(fp):
    fp = str(fp).strip()
    return fp if fp.startswith("SHA256:") else "SHA256:" + fp.rstrip("=")


def approved_key_map(approved_keys):
    """user -> set of normalised approved fingerprints."""
    approved = {}
    for user, fps in (approved_keys or {}).items():
        if isinstance(fps, str):
            fps = re.split(r"[\s,]+", fps)
        approved[user] = {_norm_fp(f) for f in (fps or []) if str(f).strip()}
    return approved


def is_unapproved_key(key, approved, strict_keys=False):
    """True when the key's fingerprint is not approved for its user."""
    if key["user"] in approved:
        return key["fingerprint"] not in approved[key["user"]]
    return bool(strict_keys)


def check_keys(keys, approved_keys=None, strict_keys=False):
    findings = []
    approved = approved_key_map(approved_keys)
    for key in keys:
        user = key["user"]
        label = "%s key %s (%s)" % (key["type"], key["fingerprint"], key["comment"] or "no comment")
        if is_unapproved_key(key, approved, strict_keys):
            findings.append(
                finding(
                    "unapproved_key",
                    "high",
                    "User '%s' accepts an SSH login with the unapproved %s in %s"
                    % (user, label, key["file"]),
                    "Ask the owner of account '%s' whether they recognise key '%s'. If nobody "
                    "does, have it removed today; if it is needed, add its fingerprint to the "
                    "approved keys." % (user, key["comment"] or key["fingerprint"]),
                )
            )
        if key["weak"]:
            size = "%d-bit " % key["bits"] if key["bits"] else ""
            findings.append(
                finding(
                    "weak_key",
                    "medium",
                    "User '%s' accepts a weak %s%s key %s (%s) in %s"
                    % (user, size, key["type"], key["fingerprint"], key["comment"], key["file"]),
                    "Have the owner of this key create a new one (ed25519, or RSA of at least "
                    "3072 bits), then remove the old key from account '%s'." % user,
                )
            )
    return findings


# --------------------------------------------------------------------------------------------
# Last logins (lastlog)

LASTLOG_DATE_FORMAT = "%a %b %d %H:%M:%S %z %Y"


def parse_lastlog(text):
    """Parse ``lastlog`` output into ``{user: {"never": bool, "latest": datetime|None, ...}}``."""
    result = {}
    for raw in (text or "").splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        tokens = line.split()
        if tokens[0] == "Username" and "Latest" in tokens:
            continue
        user = tokens[0]
        if "**Never logged in**" in line:
            result[user] = {"never": True, "latest": None, "port": "", "from": ""}
            continue
        if len(tokens) < 7:
            continue
        try:
            latest = datetime.datetime.strptime(" ".join(tokens[-6:]), LASTLOG_DATE_FORMAT)
        except ValueError:
            continue
        middle = tokens[1:-6]
        result[user] = {
            "never": False,
            "latest": latest,
            "port": middle[0] if middle else "",
            "from": middle[1] if len(middle) > 1 else "",
        }
    return result


def reviewed_logins(accounts, logins):
    """(account, login record) for accounts that can log in with a shell, root excluded."""
    for acc in accounts:
        if acc["name"] == "root" or acc["uid"] == 0 or not acc["login_shell"]:
            continue
        if not can_log_in(acc):
            continue
        info = logins.get(acc["name"])
        if info is not None:
            yield acc, info


def stale_account_names(accounts, logins, now, stale_days=90):
    """Accounts whose last login is older than stale_days."""
    return [
        acc["name"]
        for acc, info in reviewed_logins(accounts, logins)
        if not info["never"] and (now - info["latest"]).days > stale_days
    ]


def remediation_targets(
    accounts, logins, now, stale_days, keys, approved_keys, strict_keys, ignore_users
):
    """What access_review_remediate may change: stale accounts to lock, keys to remove.

    Accounts in ignore_users (the account Ansible connects with) are never targets.
    """
    ignore = set(ignore_users or [])
    approved = approved_key_map(approved_keys)
    return {
        "lock_accounts": [
            name
            for name in stale_account_names(accounts, logins, now, stale_days)
            if name not in ignore
        ],
        "remove_keys": [
            {"user": k["user"], "file": k["file"], "fingerprint": k["fingerprint"], "key": k["key"]}
            for k in keys
            if k["user"] not in ignore and is_unapproved_key(k, approved, strict_keys)
        ],
    }


def check_logins(accounts, logins, now, stale_days=90):
    """Stale accounts (login shell, last login too long ago) and never-used old accounts."""
    findings = []
    for acc, info in reviewed_logins(accounts, logins):
        name = acc["name"]
        if info["never"]:
            age = acc["password_age_days"]
            if age is not None and age > stale_days:
                findings.append(
                    finding(
                        "never_logged_in",
                        "low",
                        "Account '%s' was set up about %d days ago and has never logged in"
                        % (name, age),
                        "Check whether account '%s' is still needed; if not, have it disabled."
                        % name,
                    )
                )
            continue
        days = (now - info["latest"]).days
        if days > stale_days:
            findings.append(
                finding(
                    "stale_account",
                    "medium",
                    "Account '%s' last logged in %d days ago (%s), more than %d days"
                    % (name, days, info["latest"].date().isoformat(), stale_days),
                    "Check whether the person behind account '%s' still needs access; if they "
                    "left or changed role, have the account disabled." % name,
                )
            )
    return findings


# --------------------------------------------------------------------------------------------
# Listening sockets


def split_host_port(text):
    """Split ``0.0.0.0:22``, ``[::1]:5432``, ``*:123``, ``127.0.0.53%lo:53``."""
    host, _, port = text.rpartition(":")
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    host = host.split("%", 1)[0]
    return host or "*", port


def parse_ss(text, proto):
    """Parse ``ss -H -tlnp`` (proto tcp) or ``ss -H -ulnp`` (proto udp) output."""
    listeners = []
    for raw in (text or "").splitlines():
        tokens = raw.split()
        if not tokens:
            continue
        if tokens[0] in ("tcp", "udp", "raw", "sctp"):  # with a Netid column
            proto_here, tokens = tokens[0], tokens[1:]
        else:
            proto_here = proto
        if len(tokens) < 5 or not tokens[0].isupper():
            continue
        host, port = split_host_port(tokens[3])
        if not port.isdigit():
            continue
        process = ""
        rest = " ".join(tokens[5:])
        names = re.findall(r'\("([^"]+)",pid=', rest)
        if names:
            process = ",".join(dict.fromkeys(names))
        listeners.append(make_listener(proto_here, host, int(port), process))
    return dedupe_listeners(listeners)


def _hex_ip(hexaddr):
    raw = bytes.fromhex(hexaddr)
    # /proc/net stores the address as host-order 32-bit words (little-endian on x86/arm)
    words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
    return ipaddress.ip_address(b"".join(words))


def parse_proc_net(text, proto):
    """Parse /proc/net/{tcp,tcp6,udp,udp6}: TCP in state LISTEN (0A), UDP unconnected (07)."""
    listeners = []
    want = "0A" if proto == "tcp" else "07"
    for raw in (text or "").splitlines()[1:]:
        tokens = raw.split()
        if len(tokens) < 4 or tokens[3] != want:
            continue
        local, remote = tokens[1], tokens[2]
        if proto == "udp" and not remote.endswith(":0000"):
            continue
        hexaddr, hexport = local.split(":")
        addr = _hex_ip(hexaddr)
        host = str(addr)
        if addr.is_unspecified:
            host = "0.0.0.0" if addr.version == 4 else "::"
        listeners.append(make_listener(proto, host, int(hexport, 16), ""))
    return listeners


def is_loopback(host):
    if host in ("*", ""):
        return False
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def make_listener(proto, host, port, process):
    proto = proto.rstrip("6")
    return {
        "proto": proto,
        "address": host,
        "port": port,
        "process": process,
        "loopback": is_loopback(host),
        "spec": listener_spec(proto, host, port),
    }


def listener_spec(proto, host, port):
    """The canonical ``proto/address:port`` string used in snapshots and messages."""
    if ":" in host:
        host = "[%s]" % host
    return "%s/%s:%d" % (proto, host, port)


def dedupe_listeners(listeners):
    seen, out = set(), []
    for item in listeners:
        if item["spec"] in seen:
            continue
        seen.add(item["spec"])
        out.append(item)
    return out


def parse_allowed_listener(entry):
    """``tcp/22``, ``tcp/127.0.0.1:5432``, ``udp/*:123``, ``tcp/[::1]:5432`` -> (proto, host, port)

    ``host`` None means any address. The protocol defaults to tcp.
    """
    entry = str(entry).strip()
    proto, _, rest = entry.partition("/") if "/" in entry else ("tcp", "", entry)
    proto = proto.lower().rstrip("6") or "tcp"
    if rest.isdigit():
        return proto, None, int(rest)
    host, port = split_host_port(rest)
    if not port.isdigit():
        raise ValueError("invalid allowed listener %r" % entry)
    if host == "*":
        return proto, None, int(port)
    with contextlib.suppress(ValueError):
        host = str(ipaddress.ip_address(host))
    return proto, host, int(port)


def listener_allowed(listener, allowed):
    host = listener["address"]
    with contextlib.suppress(ValueError):
        host = str(ipaddress.ip_address(host))
    for proto, a_host, port in allowed:
        if proto not in (listener["proto"], "*") or port != listener["port"]:
            continue
        if a_host is None or a_host == host:
            return True
    return False


def check_listeners(listeners, allowed_listeners=None):
    findings = []
    if allowed_listeners is None:
        return findings
    allowed = [parse_allowed_listener(e) for e in allowed_listeners]
    for item in listeners:
        if listener_allowed(item, allowed):
            continue
        proc = " by %s" % item["process"] if item["process"] else ""
        if item["loopback"]:
            findings.append(
                finding(
                    "unapproved_listener",
                    "low",
                    "Unapproved service listening on %s%s (this computer only)"
                    % (item["spec"], proc),
                    "Ask your IT provider what this local service is; if it is needed, add "
                    "'%s' to the allowed listeners, otherwise have it switched off." % item["spec"],
                )
            )
        else:
            findings.append(
                finding(
                    "unapproved_listener",
                    "high",
                    "Unapproved remote-access path: a service%s listens on %s, reachable "
                    "from the network" % (proc, item["spec"]),
                    "Ask your IT provider today what this service is. If nobody approved it, "
                    "have it switched off or firewalled; if it is needed, add '%s' to the "
                    "allowed listeners." % item["spec"],
                )
            )
    return findings


# --------------------------------------------------------------------------------------------
# Snapshots


def build_snapshot(accounts, members, rules, keys, listeners):
    """A comparable picture of who and what can get in, with no secrets."""
    key_map = {}
    for key in keys:
        key_map.setdefault(key["user"], set()).add(key["fingerprint"])
    return {
        "users": sorted(a["name"] for a in accounts),
        "admin_members": {g: sorted(m) for g, m in sorted(members.items())},
        "sudo_rules": sorted({r["text"] for r in rules}),
        "keys": {u: sorted(f) for u, f in sorted(key_map.items())},
        "listeners": sorted({item["spec"] for item in listeners}),
    }


def compare_snapshots(before, after):
    """Findings for every account, key, admin member, sudo rule or listener that appeared.

    A category missing from ``before`` (an older or partial snapshot) is not compared, so that
    a missing baseline never floods the report.
    """
    findings = []
    before = before or {}
    after = after or {}

    def appeared(message, recommendation):
        findings.append(finding("appeared_during_window", "high", message, recommendation))

    if "users" in before:
        for user in sorted(set(after.get("users", [])) - set(before["users"])):
            appeared(
                "Account '%s' appeared since the previous snapshot" % user,
                "Confirm that account '%s' was created on purpose; if nobody did, treat it as a "
                "security incident and have it disabled." % user,
            )
    if "admin_members" in before:
        for group, members in sorted(after.get("admin_members", {}).items()):
            for user in sorted(set(members) - set(before["admin_members"].get(group, []))):
                appeared(
                    "User '%s' was added to the administrators group '%s' since the previous "
                    "snapshot" % (user, group),
                    "Confirm that someone approved administrator rights for '%s'; if not, have "
                    "them removed." % user,
                )
    if "sudo_rules" in before:
        for rule in sorted(set(after.get("sudo_rules", [])) - set(before["sudo_rules"])):
            appeared(
                "sudo rule appeared since the previous snapshot: %s" % rule,
                "Confirm that this new sudo rule was approved; if not, have it removed.",
            )
    if "keys" in before:
        for user, fps in sorted(after.get("keys", {}).items()):
            for fp in sorted(set(fps) - set(before["keys"].get(user, []))):
                appeared(
                    "SSH key %s was added to account '%s' since the previous snapshot" % (fp, user),
                    "Ask the owner of account '%s' whether they added this key; if not, have it "
                    "removed and treat it as a security incident." % user,
                )
    if "listeners" in before:
        for spec in sorted(set(after.get("listeners", [])) - set(before["listeners"])):
            appeared(
                "A new service started listening on %s since the previous snapshot" % spec,
                "Confirm that the new service on %s was installed on purpose; if not, have it "
                "switched off." % spec,
            )
    return findings


# --------------------------------------------------------------------------------------------
# I/O helpers and the collection entry point


def host_path(root, path):
    return os.path.join(root or "/", path.lstrip("/"))


def read_text(root, path):
    """File contents under ``root``, or None when missing or unreadable."""
    try:
        with open(host_path(root, path), encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def list_dir(root, path):
    try:
        return [
            n
            for n in os.listdir(host_path(root, path))
            if os.path.isfile(host_path(root, os.path.join(path, n)))
        ]
    except OSError:
        return []


def epoch_days(now):
    return (now - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)).days


DEFAULT_PARAMS = {
    "approved_users": None,
    "approved_admins": None,
    "admin_groups": list(DEFAULT_ADMIN_GROUPS),
    "approved_nopasswd": [],
    "approved_keys": None,
    "strict_keys": False,
    "allowed_listeners": None,
    "stale_days": 90,
    "max_password_age_days": 365,
    "min_uid_human": 1000,
    "root": "/",
    "ignore_users": [],
    "compare_to": None,
}


def _not_checked(what, why):
    return finding(
        "not_checked",
        "info",
        "Could not check %s: %s" % (what, why),
        "Nothing to do unless this keeps happening; then ask your IT provider to make it "
        "available so the review is complete.",
    )


def collect(root, params, run_command, now=None):
    """Collect everything on the host under ``root`` and compare it with the baseline.

    ``run_command(argv)`` returns ``(rc, stdout, stderr)``; rc 127 means "command not found".
    Returns the module result (without ``changed``).
    """
    p = dict(DEFAULT_PARAMS)
    p.update({k: v for k, v in (params or {}).items() if v is not None})
    now = now or datetime.datetime.now(datetime.timezone.utc)
    today = epoch_days(now)
    findings, info = [], []

    passwd_text = read_text(root, "/etc/passwd")
    if passwd_text is None:
        raise OSError("cannot read %s" % host_path(root, "/etc/passwd"))
    shadow_text = read_text(root, "/etc/shadow")
    if shadow_text is None:
        info.append(_not_checked("password states", "/etc/shadow is not readable (run as root)"))
    accounts = build_accounts(
        passwd_text, shadow_text, today, p["min_uid_human"], p["ignore_users"] or []
    )
    groups = parse_group(read_text(root, "/etc/group") or "")
    members = admin_members(groups, accounts, p["admin_groups"])

    # sudoers
    rules, aliases, defaults, unreadable = read_sudoers(root)
    for path in unreadable:
        if path == "/etc/sudoers" and not os.path.lexists(host_path(root, path)):
            continue  # sudo is not installed: there are no sudo rules to review
        info.append(_not_checked("sudo rules in %s" % path, "file is missing or not readable"))
    rules = enrich_sudo_rules(rules, aliases, defaults)

    # authorized_keys
    keys, invalid_key_lines = [], []
    for acc in accounts:
        home = acc["home"]
        if not home or home in ("/nonexistent", "/dev/null"):
            continue
        for name in ("authorized_keys", "authorized_keys2"):
            path = os.path.join(home, ".ssh", name)
            text = read_text(root, path)
            if text is None:
                continue
            parsed, invalid = parse_authorized_keys(text)
            for key in parsed:
                key.update({"user": acc["name"], "file": path})
                keys.append(key)
            invalid_key_lines.extend({"file": path, "line": n} for n in invalid)
    users_with_keys = {k["user"] for k in keys}
    for acc in accounts:
        acc["has_keys"] = acc["name"] in users_with_keys

    # last logins
    last_logins = []
    logins = {}
    rc, out, err = run_command(["lastlog"])
    if rc == 0:
        logins = parse_lastlog(out)
        for user, rec in sorted(logins.items()):
            last_logins.append(
                {
                    "user": user,
                    "never_logged_in": rec["never"],
                    "latest": rec["latest"].isoformat() if rec["latest"] else None,
                    "days_ago": (now - rec["latest"]).days if rec["latest"] else None,
                    "port": rec["port"],
                    "from": rec["from"],
                }
            )
        findings_logins = check_logins(accounts, logins, now, p["stale_days"])
    else:
        findings_logins = []
        why = "the lastlog command is not installed" if rc == 127 else (err or out).strip()
        info.append(_not_checked("last logins (stale accounts)", why or "lastlog failed"))

    # listeners
    listeners = []
    ss_ok = True
    for proto, flag in (("tcp", "-H -tlnp"), ("udp", "-H -ulnp")):
        rc, out, err = run_command(["ss", *flag.split()])
        if rc != 0:
            ss_ok = False
            break
        listeners.extend(parse_ss(out, proto))
    if not ss_ok:
        listeners = []
        found_any = False
        for proto, name in (("tcp", "tcp"), ("tcp", "tcp6"), ("udp", "udp"), ("udp", "udp6")):
            text = read_text(root, "/proc/net/" + name)
            if text is not None:
                found_any = True
                listeners.extend(parse_proc_net(text, proto))
        listeners = dedupe_listeners(listeners)
        if found_any:
            info.append(
                _not_checked(
                    "which program owns each listening port",
                    "the ss command is not available; ports were read from /proc/net",
                )
            )
        else:
            info.append(_not_checked("listening ports", "neither ss nor /proc/net is available"))

    findings.extend(check_accounts(accounts, p["approved_users"], p["max_password_age_days"]))
    findings.extend(check_admins(members, p["approved_admins"]))
    findings.extend(check_sudo(rules, p["approved_nopasswd"]))
    findings.extend(check_keys(keys, p["approved_keys"], p["strict_keys"]))
    findings.extend(findings_logins)
    findings.extend(check_listeners(listeners, p["allowed_listeners"]))
    if invalid_key_lines:
        info.append(
            finding(
                "unparsed_key_lines",
                "info",
                "Lines that are not valid SSH keys: %s"
                % ", ".join("%s:%d" % (i["file"], i["line"]) for i in invalid_key_lines),
                "Nothing urgent; ask your IT provider to tidy these authorized_keys files.",
            )
        )

    snapshot = build_snapshot(accounts, members, rules, keys, listeners)
    if p.get("compare_to"):
        findings.extend(compare_snapshots(p["compare_to"], snapshot))
    findings.extend(info)

    return {
        "accounts": [{k: v for k, v in a.items() if not k.startswith("_")} for a in accounts],
        "admin_members": members,
        "sudo_rules": rules,
        "authorized_keys": keys,
        "last_logins": last_logins,
        "listeners": listeners,
        "findings": findings,
        "snapshot": snapshot,
        "ignore_users": list(p["ignore_users"] or []),
        "remediation": remediation_targets(
            accounts,
            logins,
            now,
            p["stale_days"],
            keys,
            p["approved_keys"],
            p["strict_keys"],
            p["ignore_users"],
        ),
    }


# ---------------------------------------------------------------------------------------------
# Reconcile: what an interrupted remediation changed, from the manifest it wrote first


def remediation_changes(manifest, key_files_same, shadow_text, today):
    """What the remediation of ``manifest`` changed on the host, as it is now.

    ``key_files_same`` maps each backed-up authorized_keys file to whether it still has its
    backup's content (None: the backup is gone, so it cannot be shown unchanged);
    ``shadow_text`` is /etc/shadow, ``today`` days since the epoch. Returns the changed files
    and ``account:<name>`` for each account the remediation expired that is expired now
    (remediation only targets accounts that could still log in).
    """
    changed = [path for path, same in sorted(key_files_same.items()) if same is not True]
    shadow = parse_shadow(shadow_text or "")
    for name in manifest.get("expired") or []:
        expire = (shadow.get(name) or {}).get("expire")
        if expire is not None and today is not None and expire <= today:
            changed.append("account:%s" % name)
    return changed
