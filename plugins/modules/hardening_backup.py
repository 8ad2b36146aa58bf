#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: hardening_backup
short_description: Back up the files a hardening run changes, and restore them on rollback
description:
  - With C(state=backup), copies every listed file (content, mode, owner, group, sha256) into
    C(state_dir/backups/<id>/) before the hardening run changes it, records files that do not
    exist yet as C(absent) (with the directories that do not exist either), and writes the
    manifest C(state_dir/manifest-<id>.json). Entries
    with C(kind=mode) record only mode and ownership (permission controls).
  - With C(state=restored), reads a manifest (the newest when C(manifest) is empty), puts every
    file back (or removes the files the run created, and the directories it created for them
    when they are empty, or restores mode and ownership), verifies
    each restored file's sha256 against its backup, and marks the manifest rolled back.
  - With C(state=compared), reads the manifest of run I(manifest_id) (if that run wrote one)
    and reports every file that differs from what it recorded (content, mode, ownership,
    created or removed since), that is what an interrupted run changed. Read-only.
  - In check mode reports what it would do and writes nothing.
version_added: "0.1.0"
author: maint developers
options:
  state:
    description: C(backup) before a change, C(restored) to roll back, C(compared) to reconcile.
    type: str
    choices: [backup, restored, compared]
    default: backup
  files:
    description: Files to back up; each C(path) and optional C(kind) (content or mode).
    type: list
    elements: dict
    default: []
  extra:
    description: More rollback facts to keep in the manifest (packages, sysctl live values).
    type: dict
    default: {}
  state_dir:
    description: Where manifests and backups live.
    type: path
    default: /var/lib/maint/hardening
  manifest_id:
    description:
      - Manifest id (the runner's run id); a UTC timestamp when empty (state=backup).
      - The run whose manifest to compare (state=compared, required).
    type: str
    default: ""
  manifest:
    description: Manifest to restore (state=restored); the newest not rolled back when empty.
    type: path
    default: ""
  keep:
    description: How many manifests (with their backups) to keep.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Back up before hardening
  maint.preventive.hardening_backup:
    files:
      - path: /etc/login.defs
      - path: /etc/shadow
        kind: mode
  register: backup

- name: Roll back
  maint.preventive.hardening_backup:
    state: restored
"""

RETURN = r"""
path:
  description: Path of the manifest.
  returned: always
  type: str
manifest:
  description: The manifest (id, created, files, extra, rolled_back_at).
  returned: always
  type: dict
files:
  description: path -> backup path, or C(absent) when the run created the file.
  returned: always
  type: dict
restored:
  description: Files put back (state=restored).
  returned: always
  type: list
  elements: str
removed:
  description: Files removed because the run had created them (state=restored).
  returned: always
  type: list
  elements: str
mismatched:
  description: Files whose content does not match the backup after the restore.
  returned: always
  type: list
  elements: str
found:
  description: Whether the run's manifest exists (state=compared).
  returned: when state is compared
  type: bool
differ:
  description: path -> how it differs from the manifest now (state=compared).
  returned: when state is compared
  type: dict
"""

import glob
import json
import os
import shutil
import stat
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.hardening import (
    backup_name,
    file_differences,
    manifest_files,
    restore_plan,
    sha256_bytes,
)
from ansible_collections.maint.preventive.plugins.module_utils.run_record import (
    manifest_path,
    oldest_first,
)


def missing_dirs(path):
    """The ancestors of ``path`` that do not exist, deepest first."""
    out = []
    folder = os.path.dirname(path)
    while folder and folder != "/" and not os.path.lexists(folder):
        out.append(folder)
        folder = os.path.dirname(folder)
    return out


def _sha256(path):
    with open(path, "rb") as handle:
        return sha256_bytes(handle.read())


def _backup(module):
    params = module.params
    manifest_id = params["manifest_id"] or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    state_dir = params["state_dir"]
    try:
        path = manifest_path(state_dir, manifest_id)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    backup_dir = os.path.join(state_dir, "backups", manifest_id)
    entries = []
    seen = set()
    for item in params["files"]:
        target = item["path"]
        kind = item.get("kind") or "content"
        if (target, kind) in seen:
            continue
        seen.add((target, kind))
        entry = {"path": target, "kind": kind, "existed": os.path.lexists(target)}
        if not entry["existed"]:
            # the directories a run creates for a new file go again with it on rollback
            entry["missing_dirs"] = missing_dirs(target)
        if entry["existed"]:
            st = os.lstat(target)
            entry.update(mode="%04o" % stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid)
            if kind == "content" and stat.S_ISREG(st.st_mode):
                entry["backup"] = backup_name(backup_dir, target)
                entry["sha256"] = _sha256(target)
        entries.append(entry)
    manifest = {
        "version": 1,
        "id": manifest_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": entries,
        "extra": params["extra"],
        "rolled_back_at": None,
    }
    if not module.check_mode:
        for entry in entries:
            if entry.get("backup"):
                os.makedirs(os.path.dirname(entry["backup"]), mode=0o700, exist_ok=True)
                shutil.copy2(entry["path"], entry["backup"])
        os.makedirs(state_dir, mode=0o750, exist_ok=True)
        with open(path + ".tmp", "w") as handle:
            json.dump(manifest, handle, indent=2, sort_keys=True)
        os.chmod(path + ".tmp", 0o600)
        os.replace(path + ".tmp", path)
        _prune(state_dir, params["keep"])
    module.exit_json(
        changed=True,
        path=path,
        manifest=manifest,
        files=manifest_files(manifest),
        restored=[],
        removed=[],
        mismatched=[],
    )


def _manifests(state_dir):
    """The manifests in state_dir, oldest first (by time: run ids do not sort by age)."""
    return oldest_first(glob.glob(os.path.join(state_dir, "manifest-*.json")), os.path.getmtime)


def _prune(state_dir, keep):
    manifests = _manifests(state_dir)
    for old in manifests[: max(0, len(manifests) - keep)]:
        old_id = os.path.basename(old)[len("manifest-") : -len(".json")]
        shutil.rmtree(os.path.join(state_dir, "backups", old_id), ignore_errors=True)
        os.remove(old)


def _newest(state_dir):
    for candidate in reversed(_manifests(state_dir)):
        with open(candidate) as handle:
            if not json.load(handle).get("rolled_back_at"):
                return candidate
    return ""


def _restore(module):
    params = module.params
    path = params["manifest"] or _newest(params["state_dir"])
    if not path or not os.path.exists(path):
        module.fail_json(msg="no hardening manifest to roll back in %s" % params["state_dir"])
    with open(path) as handle:
        manifest = json.load(handle)
    restored, removed, mismatched = [], [], []
    for action, entry in restore_plan(manifest):
        target = entry["path"]
        if action == "remove":
            if os.path.lexists(target):
                removed.append(target)
                if not module.check_mode:
                    os.remove(target)
            for folder in entry.get("missing_dirs") or []:
                if os.path.isdir(folder) and not os.listdir(folder):
                    removed.append(folder)
                    if not module.check_mode:
                        os.rmdir(folder)
            continue
        if action == "restore":
            if not os.path.exists(entry["backup"]):
                mismatched.append(target)
                continue
            same = os.path.exists(target) and _sha256(target) == entry["sha256"]
            if not same:
                restored.append(target)
                if not module.check_mode:
                    shutil.copy2(entry["backup"], target)
        if not os.path.lexists(target):
            continue
        st = os.lstat(target)
        mode = int(entry["mode"], 8)
        if (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) != (mode, entry["uid"], entry["gid"]):
            if target not in restored:
                restored.append(target)
            if not module.check_mode:
                os.chown(target, entry["uid"], entry["gid"])
                os.chmod(target, mode)
    if not module.check_mode:
        for action, entry in restore_plan(manifest):
            target = entry["path"]
            if (action == "remove" and os.path.lexists(target)) or (
                action == "restore"
                and target not in mismatched
                and (not os.path.exists(target) or _sha256(target) != entry["sha256"])
            ):
                mismatched.append(target)
        changed = bool(restored or removed)
        if not manifest.get("rolled_back_at"):
            manifest["rolled_back_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            with open(path, "w") as handle:
                json.dump(manifest, handle, indent=2, sort_keys=True)
    else:
        changed = bool(restored or removed)
    module.exit_json(
        changed=changed,
        path=path,
        manifest=manifest,
        files=manifest_files(manifest),
        restored=sorted(restored),
        removed=sorted(removed),
        mismatched=sorted(set(mismatched)),
    )


def _live(path):
    """What file_differences compares: None when absent, else mode, owner and sha256."""
    if not os.path.lexists(path):
        return None
    st = os.lstat(path)
    return {
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "sha256": _sha256(path) if stat.S_ISREG(st.st_mode) else None,
    }


def _compare(module):
    params = module.params
    try:
        path = manifest_path(params["state_dir"], params["manifest_id"])
    except ValueError as exc:
        module.fail_json(msg="state=compared needs the run's manifest_id: %s" % exc)
    found = os.path.exists(path)
    manifest, differ = {}, {}
    if found:
        with open(path) as handle:
            manifest = json.load(handle)
        for entry in manifest.get("files", []):
            how = file_differences(entry, _live(entry["path"]))
            if how:
                differ[entry["path"]] = sorted(set(differ.get(entry["path"], [])) | set(how))
    module.exit_json(
        changed=False,
        found=found,
        path=path if found else "",
        manifest=manifest,
        files=manifest_files(manifest),
        differ=differ,
        restored=[],
        removed=[],
        mismatched=[],
    )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["backup", "restored", "compared"], default="backup"),
            files=dict(type="list", elements="dict", default=[]),
            extra=dict(type="dict", default={}),
            state_dir=dict(type="path", default="/var/lib/maint/hardening"),
            manifest_id=dict(type="str", default=""),
            manifest=dict(type="path", default=""),
            keep=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    if module.params["state"] == "backup":
        _backup(module)
    if module.params["state"] == "compared":
        _compare(module)
    _restore(module)


if __name__ == "__main__":
    main()
