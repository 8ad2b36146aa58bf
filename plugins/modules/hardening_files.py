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
  description: One per entry, C(control), C(path), C(changed), C(failed), C(msg), C(keys)
    (the lines that changed).
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
from ansible_collections.maint.preventive.plugins.module_utils.hardening import set_lines


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _ids(entry):
    uid = pwd.getpwnam(entry["owner"]).pw_uid if entry.get("owner") else -1
    gid = grp.getgrnam(entry["group"]).gr_gid if entry.get("group") else -1
    return uid, gid


def _mode_differs(path, entry):
    st = os.stat(path)
    uid, gid = _ids(entry)
    want = int(str(entry["mode"]), 8) if entry.get("mode") is not None else None
    return (
        (want is not None and stat.S_IMODE(st.st_mode) != want)
        or (uid != -1 and st.st_uid != uid)
        or (gid != -1 and st.st_gid != gid)
    )


def _set_mode(path, entry):
    uid, gid = _ids(entry)
    if uid != -1 or gid != -1:
        os.chown(path, uid, gid)
    if entry.get("mode") is not None:
        os.chmod(path, int(str(entry["mode"]), 8))


def _write(module, path, text, entry):
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


def _entry(module, entry):
    path = entry["path"]
    kind = entry.get("kind", "content")
    result = {"control": entry.get("control"), "path": path, "changed": False, "failed": False}
    if kind == "mode":
        if not os.path.lexists(path):
            result["skipped"] = True
            return result
        result["changed"] = _mode_differs(path, entry)
        if result["changed"] and not module.check_mode:
            _set_mode(path, entry)
        return result
    current = _read(path)
    if kind == "lines":
        if current is None and not entry.get("create", True):
            result["skipped"] = True
            return result
        new, keys = set_lines(
            current or "",
            entry.get("lines") or [],
            sep=entry.get("sep", " "),
            commented=entry.get("commented", False),
        )
        result["keys"] = keys
    else:
        new = entry.get("content") or ""
    content_changed = current != new
    mode_changed = current is not None and _mode_differs(path, entry)
    result["changed"] = content_changed or mode_changed or current is None
    if module.check_mode or not result["changed"]:
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
