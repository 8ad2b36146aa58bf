#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: apt_rollback
short_description: Restore the exact package versions recorded in a patching manifest
description:
  - Reads a manifest written by M(maint.preventive.apt_snapshot), reinstalls the saved pre-change
    .deb of every package whose version moved (upgraded or removed), purges the packages the run
    newly installed (dependencies included, so C(dpkg --get-selections) is what it was), then
    verifies that every package is back at its recorded version and fails otherwise.
  - Simulates first and refuses, changing nothing, when apt would remove any package the
    manifest does not list (something installed since depends on it).
  - Idempotent; in check mode reports what it would restore.
version_added: "0.1.0"
author: maint developers
options:
  manifest:
    description: Path of the manifest; the newest one in I(state_dir) when empty.
    type: path
    default: ""
  state_dir:
    description: Directory that holds the manifests.
    type: path
    default: /var/lib/maint/patching
"""

EXAMPLES = r"""
- name: Roll back the last patch run
  maint.preventive.apt_rollback: {}
"""

RETURN = r"""
manifest:
  description: The manifest that was restored (with rolled_back_at set after a restore).
  returned: always
  type: dict
path:
  description: Path of the manifest used.
  returned: always
  type: str
restored:
  description: Packages put back to their pre-change version.
  returned: always
  type: list
  elements: str
removed:
  description: Packages the run had installed and the rollback purged.
  returned: always
  type: list
  elements: str
versions:
  description: Installed version of every manifest package after the rollback.
  returned: always
  type: dict
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.apt_lists import AptSession
from ansible_collections.maint.preventive.plugins.module_utils.apt_sim import parse_simulation
from ansible_collections.maint.preventive.plugins.module_utils.dpkg_query import (
    installed_versions,
)
from ansible_collections.maint.preventive.plugins.module_utils.patch_manifest import (
    rollback_actions,
    verify,
)

ENV = {"LANG": "C", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            manifest=dict(type="path", default=""),
            state_dir=dict(type="path", default="/var/lib/maint/patching"),
        ),
        supports_check_mode=True,
    )
    path = module.params["manifest"] or os.path.join(module.params["state_dir"], "latest.json")
    if not os.path.exists(path):
        module.fail_json(msg="no patching manifest at %s: nothing recorded to roll back" % path)
    path = os.path.realpath(path)
    try:
        with open(path) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        module.fail_json(msg="%s: unreadable patching manifest: %s" % (path, exc))

    names = [p["name"] for p in manifest.get("packages", [])]
    installed = installed_versions(module, names)
    reinstall, remove, missing = rollback_actions(manifest, installed)
    if missing:
        module.fail_json(
            msg="cannot roll back %s: no pre-change .deb was kept" % ", ".join(missing),
            manifest=manifest,
            path=path,
        )
    result = dict(
        changed=bool(reinstall or remove),
        manifest=manifest,
        path=path,
        restored=[p["name"] for p in reinstall],
        removed=remove,
        versions=installed,
    )
    if not result["changed"] or module.check_mode:
        module.exit_json(**result)

    args = [
        "install",
        "-q",
        "--allow-downgrades",
        "--no-install-recommends",
        "--purge",
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
    ]
    args += [p["deb"] for p in reinstall] + ["%s-" % name for name in remove]
    # Purge only what the run installed: refuse when apt would take anything else with it.
    with AptSession(module, check_mode=True) as apt:
        rc, out, error = apt.simulate(args)
    if rc != 0:
        module.fail_json(msg="rollback cannot run: %s" % error, **result)
    others = sorted(
        p["name"]
        for p in parse_simulation(out)
        if p["action"] in ("remove", "purge") and p["name"] not in remove
    )
    if others:
        module.fail_json(
            msg="rollback refused: purging %s would also remove %s (installed since)"
            % (", ".join(remove), ", ".join(others)),
            **result,
        )
    rc, out, err = module.run_command(["apt-get", "-y", *args], environ_update=ENV)
    if rc != 0:
        module.fail_json(msg="rollback failed: %s" % (err.strip() or out[-2000:]), **result)

    after = installed_versions(module, names)
    wrong = verify(manifest, after)
    result["versions"] = after
    if wrong:
        module.fail_json(
            msg="rollback did not restore the recorded versions", wrong=wrong, **result
        )
    manifest["rolled_back_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
