#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: hardening_files
short_description: Audit and enforce the file-based hardening controls in one pass
description:
  - Each entry belongs to a control and is one of C(content) (the whole file), C(lines)
    (C(KEY<sep>VALUE) lines set in place, e.g. login.defs or an sshd drop-in) or C(mode)
    (mode and ownership of an existing file or directory).
  - An entry may carry C(validate), a command with C(%s) for the candidate file; it runs before
    the live file is replaced, and a failing validation fails the entry and leaves the file.
  - A C(lines) entry judges each key on its last active line with C(compare) (C(eq),
    C(max), C(min), C(umask), C(mode); stricter values are compliant) and changes only the keys
    that are not compliant. When its file does not exist it may start from C(base), a copy of
    another file (a vendor file in /usr/lib overridden by a file of the same name in /etc).
  - A C(lines) entry whose file a package of the same apply creates may carry C(shipped), the
    content that package ships (from M(maint.preventive.apt_transaction)); check mode then
    judges and diffs against it, as the apply will find it.
  - A C(mode) entry may carry C(compare) C(mode), where a mode granting no bit beyond the wanted one
    is compliant.
  - Every result carries the evidence of each key or mode and the C(data.changes) entries of
    its change, with the file's unified diff (secrets redacted).
  - In check mode nothing is written and every entry reports whether it would change; that is
    the audit. Backups are taken before by M(maint.preventive.hardening_backup).
version_added: "0.1.0"
author: maint developers
options:
  entries:
    description: The entries, applied in order (several may share a file).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Set the password policy
  maint.preventive.hardening_files:
    entries:
      - control: AUTH-01
        kind: lines
        path: /etc/login.defs
        commented: true
        sep: "\t"
        lines:
          - {key: PASS_MAX_DAYS, value: 365}
      - control: PERM-03
        kind: mode
        path: /etc/crontab
        mode: "0600"
        owner: root
        group: root
"""

RETURN = r"""
results:
  description:
    - One per entry, C(control), C(path), C(changed) (in check mode, would change),
      C(failed), C(msg), C(keys) (the lines that change), C(compliant), C(items) (the evidence
      of each key or mode checked, C(key), C(effective), C(expected), C(source),
      C(compliant)) and C(changes) (data.changes entries, with the file's unified diff).
  returned: always
  type: list
  elements: dict
"""

import grp
import os
import pwd
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.changes import (
    file_change,
    mode_changes,
)
from ansible_collections.maint.preventive.plugins.module_utils.hardening import (
    compliant,
    expected_text,
    find_setting,
    set_lines,
)

# Check mode: what the earlier entries of this call would have written, so that entries
# sharing a file (login.defs, the sysctl file) show diffs that apply one after the other.
_PLANNED = {}


def _read(path):
    if path in _PLANNED:
        return _PLANNED[path]
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _ids(entry):
    uid = pwd.getpwnam(entry["owner"]).pw_uid if entry.get("owner") else -1
    gid = grp.getgrnam(entry["group"]).gr_gid if entry.get("group") else -1
    return uid, gid


def _name(getter, number):
    try:
        return getter(number)[0]
    except KeyError:
        return str(number)


def _meta(path):
    """{mode, owner, group} of a path as it is."""
    st = os.lstat(path)
    return {
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "owner": _name(pwd.getpwuid, st.st_uid),
        "group": _name(grp.getgrgid, st.st_gid),
    }


def _wanted_meta(entry):
    mode = entry.get("mode")
    return {
        "mode": None if mode is None else "%04o" % int(str(mode), 8),
        "owner": entry.get("owner"),
        "group": entry.get("group"),
    }


def _mode_item(path, entry):
    """The evidence of a path's mode and ownership, and whether it meets the entry."""
    have = _meta(path)
    want = _wanted_meta(entry)
    mode_ok = want["mode"] is None or compliant(
        entry.get("compare") or "eq", have["mode"], want["mode"]
    )
    owner_ok = (want["owner"] in (None, have["owner"])) and (want["group"] in (None, have["group"]))
    expected_mode = want["mode"] or have["mode"]
    if (entry.get("compare") or "eq") == "mode" and want["mode"]:
        expected_mode = "%s or stricter" % want["mode"]
    effective = "%s %s:%s" % (have["mode"], have["owner"], have["group"])
    return {
        "key": "mode",
        "effective": effective,
        "phrase": "%s is %s" % (path, effective),
        "expected": "%s %s:%s"
        % (expected_mode, want["owner"] or have["owner"], want["group"] or have["group"]),
        "source": path,
        "compliant": mode_ok and owner_ok,
        "mode_ok": mode_ok,
        "have": have,
        "want": {
            "mode": have["mode"] if mode_ok else want["mode"],
            "owner": want["owner"] or have["owner"],
            "group": want["group"] or have["group"],
        },
    }


def _set_mode(path, entry):
    uid, gid = _ids(entry)
    if uid != -1 or gid != -1:
        os.chown(path, uid, gid)
    if entry.get("mode") is not None:
        os.chmod(path, int(str(entry["mode"]), 8))


def _write(module, path, text, entry):
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".maint-hardening-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        if os.path.exists(path):
            st = os.stat(path)
            os.chown(tmp, st.st_uid, st.st_gid)
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        else:
            os.chmod(tmp, 0o644)
        _set_mode(tmp, entry)
        if entry.get("validate"):
            rc, out, err = module.run_command(entry["validate"] % tmp)
            if rc != 0:
                return "validation failed (%s): %s" % (entry["validate"], (err or out).strip())
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp and os.path.exists(tmp):
            os.remove(tmp)
    return ""


def _line_items(path, current, lines):
    items = []
    for line in lines:
        key = str(line["key"])
        compare = line.get("compare") or "eq"
        value, number = find_setting(current, key) if current is not None else (None, None)
        if value is not None:
            phrase = "%s %s at %s:%d" % (key, value, path, number)
        elif current is None:
            phrase = "%s not set: %s does not exist" % (key, path)
        else:
            phrase = "%s not set in %s" % (key, path)
        items.append(
            {
                "key": key,
                "phrase": phrase,
                "effective": "%s %s" % (key, value) if value is not None else "%s (not set)" % key,
                "expected": expected_text(key, line["value"], compare),
                "source": "%s:%d" % (path, number) if number else path,
                "compliant": compliant(compare, value, line["value"]),
            }
        )
    return items


def _first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _entry(module, entry):
    path = entry["path"]
    kind = entry.get("kind", "content")
    control = entry.get("control")
    result = {
        "control": control,
        "path": path,
        "changed": False,
        "failed": False,
        "compliant": True,
        "items": [],
        "changes": [],
    }
    if kind == "mode":
        if not os.path.lexists(path):
            result["skipped"] = True
            return result
        item = _mode_item(path, entry)
        result["items"] = [item]
        if item["compliant"]:
            return result
        result.update(changed=True, compliant=False)
        result["changes"] = mode_changes(control, path, item["have"], item["want"])
        if not module.check_mode:
            _set_mode(path, dict(entry, mode=None if item["mode_ok"] else entry.get("mode")))
        return result
    current = _read(path)
    if kind == "lines":
        if current is None and not entry.get("create", True) and entry.get("shipped") is None:
            result["skipped"] = True
            return result
        start = current
        if current is None and entry.get("base"):
            start = _read(entry["base"])
        if current is None and entry.get("shipped") is not None:
            # a package the apply installs first creates the file with this content
            current = start = entry["shipped"]
        items = _line_items(
            entry.get("base") or path if current is None else path, start, entry.get("lines") or []
        )
        wanted = entry.get("lines") or []
        todo = [line for line, item in zip(wanted, items, strict=True) if not item["compliant"]]
        new, keys = set_lines(
            start or "",
            todo,
            sep=entry.get("sep", " "),
            commented=entry.get("commented", False),
        )
        if not todo and current is not None:
            new = current
        result["keys"] = keys
    else:
        new = entry.get("content") or ""
        items = [
            {
                "key": "content",
                "phrase": "%s does not exist" % path
                if current is None
                else '%s reads "%s"' % (path, _first_line(current)),
                "effective": _first_line(current) if current is not None else "(no file)",
                "expected": _first_line(new),
                "source": path,
                "compliant": current == new,
            }
        ]
    mode_item = _mode_item(path, entry) if os.path.lexists(path) else None
    if mode_item is not None:
        items.append(mode_item)
    result["items"] = items
    content_changed = current != new
    mode_changed = mode_item is not None and not mode_item["compliant"]
    result["changed"] = content_changed or mode_changed
    result["compliant"] = not result["changed"]
    if not result["changed"]:
        return result
    changes = []
    if content_changed:
        created = file_change(control, path, current, new)
        if current is None:
            want = _wanted_meta(entry)
            created["after"] = "%s %s:%s" % (
                want["mode"] or "0644",
                want["owner"] or "root",
                want["group"] or "root",
            )
        changes.append(created)
    if mode_changed:
        changes.extend(mode_changes(control, path, mode_item["have"], mode_item["want"]))
    result["changes"] = changes
    if module.check_mode:
        if content_changed:
            _PLANNED[path] = new
        return result
    if content_changed:
        error = _write(module, path, new, entry)
        if error:
            result.update(failed=True, changed=False, msg=error)
    else:
        _set_mode(path, entry)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(entries=dict(type="list", elements="dict", required=True)),
        supports_check_mode=True,
    )
    results = [_entry(module, e) for e in module.params["entries"]]
    for result in results:
        for item in result["items"]:
            for private in ("have", "want", "mode_ok"):
                item.pop(private, None)
    failed = [r for r in results if r["failed"]]
    changed = any(r["changed"] for r in results)
    if failed:
        module.fail_json(
            msg="; ".join("%s %s: %s" % (r["control"], r["path"], r.get("msg")) for r in failed),
            results=results,
            changed=changed,
        )
    module.exit_json(changed=changed, results=results)


if __name__ == "__main__":
    main()
