#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: access_review_reconcile
short_description: Find what an interrupted access remediation changed, from its manifest
description:
  - Reads the remediation manifest that run I(manifest_id) wrote before it changed anything
    (C(state_dir/manifest-<id>.json)), compares every authorized_keys file it backed up with
    the live file, and reads C(/etc/shadow) for the accounts it was to expire.
  - Returns the files that differ from their backup and C(account:<name>) for each account
    that is expired now. Never returns a password hash.
  - Read-only; the same in check mode.
version_added: "0.2.0"
author: maint developers
options:
  manifest_id:
    description: Id of the run whose manifest to look for (the runner's run id).
    type: str
    required: true
  state_dir:
    description: Directory that holds the remediation manifests and backups.
    type: path
    default: /var/lib/maint/access_review
"""

EXAMPLES = r"""
- name: What did the killed run's remediation change
  maint.preventive.access_review_reconcile:
    manifest_id: run-1234-20261206T101500123456
  register: reconcile
"""

RETURN = r"""
found:
  description: Whether the run's remediation manifest exists on the host.
  returned: always
  type: bool
path:
  description: Path of the manifest (empty when not found).
  returned: always
  type: str
manifest:
  description: The manifest as the run wrote it (empty when not found).
  returned: always
  type: dict
differ:
  description: Changed files, and C(account:<name>) for each account expired now.
  returned: always
  type: list
  elements: str
"""

import hashlib
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.access_review import (
    remediation_changes,
)
from ansible_collections.maint.preventive.plugins.module_utils.run_record import (
    manifest_path,
)


def _digest(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def _same(live, backup):
    """Whether ``live`` has the content of ``backup`` (None: no backup to compare with)."""
    kept = _digest(backup)
    if kept is None:
        return None
    return _digest(live) == kept


def main():
    module = AnsibleModule(
        argument_spec=dict(
            manifest_id=dict(type="str", required=True),
            state_dir=dict(type="path", default="/var/lib/maint/access_review"),
        ),
        supports_check_mode=True,
    )
    try:
        path = manifest_path(module.params["state_dir"], module.params["manifest_id"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if not os.path.exists(path):
        module.exit_json(changed=False, found=False, path="", manifest={}, differ=[])
    try:
        with open(path) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        module.fail_json(msg="%s: unreadable remediation manifest: %s" % (path, exc))
    same = {live: _same(live, kept) for live, kept in (manifest.get("key_files") or {}).items()}
    shadow = ""
    if manifest.get("expired"):
        try:
            with open("/etc/shadow") as handle:
                shadow = handle.read()
        except OSError as exc:
            module.fail_json(msg="/etc/shadow is not readable (run with become): %s" % exc)
    today = int(time.time() // 86400)
    module.exit_json(
        changed=False,
        found=True,
        path=path,
        manifest=manifest,
        differ=remediation_changes(manifest, same, shadow, today),
    )


if __name__ == "__main__":
    main()
