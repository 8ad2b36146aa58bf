#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: patch_reconcile
short_description: Find what an interrupted patch run changed, from the manifest it wrote first
description:
  - Reads the rollback manifest that the patch run I(manifest_id) wrote before it changed
    anything (C(state_dir/manifest-<id>.json), from M(maint.preventive.apt_snapshot) or the dnf
    tasks), and compares every package in it with the version installed now (dpkg-query or
    rpm).
  - A package whose installed version is not its recorded pre-change version was changed by
    that run (or by something after it). Nothing found means the run changed no package here.
  - Read-only; the same in check mode.
version_added: "0.2.0"
author: maint developers
options:
  manifest_id:
    description: Id of the run whose manifest to look for (the runner's run id).
    type: str
    required: true
  state_dir:
    description: Directory that holds the manifests.
    type: path
    default: /var/lib/maint/patching
  manager:
    description: Package database to ask, C(dpkg) (Debian family) or C(rpm) (RHEL family).
    type: str
    choices: [dpkg, rpm]
    default: dpkg
"""

EXAMPLES = r"""
- name: What did the killed run change
  maint.preventive.patch_reconcile:
    manifest_id: run-1234-20261206T101500123456
  register: reconcile
"""

RETURN = r"""
found:
  description: Whether the run's manifest exists on the host.
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
changed_packages:
  description: Names of the packages whose installed version is not the recorded one.
  returned: always
  type: list
  elements: str
versions:
  description: name -> before, after and now, for the changed packages.
  returned: always
  type: dict
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.dpkg_query import (
    installed_versions as dpkg_versions,
)
from ansible_collections.maint.preventive.plugins.module_utils.patch_manifest import (
    run_changes,
)
from ansible_collections.maint.preventive.plugins.module_utils.rpm_query import (
    installed_versions as rpm_versions,
)
from ansible_collections.maint.preventive.plugins.module_utils.run_record import (
    manifest_path,
)

QUERIES = {"dpkg": dpkg_versions, "rpm": rpm_versions}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            manifest_id=dict(type="str", required=True),
            state_dir=dict(type="path", default="/var/lib/maint/patching"),
            manager=dict(type="str", choices=["dpkg", "rpm"], default="dpkg"),
        ),
        supports_check_mode=True,
    )
    try:
        path = manifest_path(module.params["state_dir"], module.params["manifest_id"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if not os.path.exists(path):
        module.exit_json(
            changed=False, found=False, path="", manifest={}, changed_packages=[], versions={}
        )
    try:
        with open(path) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        module.fail_json(msg="%s: unreadable patching manifest: %s" % (path, exc))
    names = [p["name"] for p in manifest.get("packages", [])]
    installed = QUERIES[module.params["manager"]](module, names)
    versions = run_changes(manifest, installed)
    module.exit_json(
        changed=False,
        found=True,
        path=path,
        manifest=manifest,
        changed_packages=sorted(versions),
        versions=versions,
    )


if __name__ == "__main__":
    main()
