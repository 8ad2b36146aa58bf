#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: apt_snapshot
short_description: Record the pre-change package versions and keep the .deb files to go back
description:
  - Writes a rollback manifest for an apt transaction (from M(maint.preventive.apt_pending)) and
    keeps a .deb of every package's pre-change version beside it, so a downgrade works even when
    the repository no longer carries the old version.
  - Each .deb comes from the apt cache, else C(apt-get download NAME=VERSION), else
    C(dpkg-repack NAME) (rebuilt from the installed files).
  - In check mode returns the manifest it would write and writes nothing.
version_added: "0.1.0"
author: maint developers
options:
  transaction:
    description: The C(selected) list returned by M(maint.preventive.apt_pending).
    type: list
    elements: dict
    required: true
  state_dir:
    description: Directory that holds the manifests and saved packages.
    type: path
    default: /var/lib/maint/patching
  manifest_id:
    description:
      - Identifier of the manifest (the runner's run id, so a reconcile finds it after a
        killed run); a UTC timestamp when empty.
    type: str
    default: ""
  keep:
    description: How many manifests (with their packages) to keep; older ones are pruned.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Snapshot before patching
  maint.preventive.apt_snapshot:
    transaction: "{{ pending.selected }}"
  register: snapshot
"""

RETURN = r"""
manifest:
  description: The manifest (id, created, packages with before/after versions and saved .deb).
  returned: always
  type: dict
path:
  description: Path of the manifest file on the host.
  returned: always
  type: str
missing:
  description: Packages whose pre-change .deb could not be kept (rollback cannot restore them).
  returned: always
  type: list
  elements: str
"""

import glob
import json
import os
import shutil
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.apt_sim import (
    deb_version_filename,
)
from ansible_collections.maint.preventive.plugins.module_utils.patch_manifest import (
    build_manifest,
)
from ansible_collections.maint.preventive.plugins.module_utils.run_record import (
    manifest_path,
    oldest_first,
)

ENV = {"LANG": "C", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}


def _from_cache(pkg, debs_dir):
    pattern = "/var/cache/apt/archives/%s_%s_*.deb" % (
        pkg["name"],
        deb_version_filename(pkg["before"]),
    )
    for path in sorted(glob.glob(pattern)):
        target = os.path.join(debs_dir, os.path.basename(path))
        shutil.copy2(path, target)
        return target
    return None


def _newest_deb(debs_dir, name, before):
    pattern = os.path.join(debs_dir, "%s_%s_*.deb" % (name, deb_version_filename(before)))
    found = sorted(glob.glob(pattern))
    if found:
        return found[0]
    found = sorted(glob.glob(os.path.join(debs_dir, "%s_*.deb" % name)), key=os.path.getmtime)
    return found[-1] if found else None


def keep_deb(module, pkg, debs_dir):
    """Save the pre-change .deb of pkg into debs_dir; return (path, source) or (None, None)."""
    path = _from_cache(pkg, debs_dir)
    if path:
        return path, "apt-cache"
    rc, _out, _err = module.run_command(
        ["apt-get", "download", "-q", "%s=%s" % (pkg["name"], pkg["before"])],
        cwd=debs_dir,
        environ_update=ENV,
    )
    if rc == 0:
        path = _newest_deb(debs_dir, pkg["name"], pkg["before"])
        if path:
            return path, "repository"
    if module.get_bin_path("dpkg-repack"):
        rc, _out, _err = module.run_command(["dpkg-repack", pkg["name"]], cwd=debs_dir)
        if rc == 0:
            path = _newest_deb(debs_dir, pkg["name"], pkg["before"])
            if path:
                return path, "dpkg-repack"
    return None, None


def prune(state_dir, keep):
    manifests = oldest_first(
        glob.glob(os.path.join(state_dir, "manifest-*.json")), os.path.getmtime
    )
    for old in manifests[: max(0, len(manifests) - keep)]:
        manifest_id = os.path.basename(old)[len("manifest-") : -len(".json")]
        shutil.rmtree(os.path.join(state_dir, manifest_id), ignore_errors=True)
        os.unlink(old)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            transaction=dict(type="list", elements="dict", required=True),
            state_dir=dict(type="path", default="/var/lib/maint/patching"),
            manifest_id=dict(type="str", default=""),
            keep=dict(type="int", default=5),
        ),
        supports_check_mode=True,
    )
    state_dir = module.params["state_dir"]
    manifest_id = module.params["manifest_id"] or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        path = manifest_path(state_dir, manifest_id)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    manifest = build_manifest(manifest_id, created, module.params["transaction"])
    if not manifest["packages"]:
        module.exit_json(changed=False, manifest=manifest, path="", missing=[])
    if module.check_mode:
        module.exit_json(changed=True, manifest=manifest, path=path, missing=[])

    debs_dir = os.path.join(state_dir, manifest_id, "debs")
    os.makedirs(debs_dir, mode=0o750, exist_ok=True)
    os.chmod(state_dir, 0o750)
    missing = []
    for pkg in manifest["packages"]:
        if pkg["before"] is None:
            continue
        deb, source = keep_deb(module, pkg, debs_dir)
        if deb:
            pkg["deb"], pkg["deb_source"] = deb, source
        else:
            missing.append(pkg["name"])
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)
    latest = os.path.join(state_dir, "latest.json")
    if os.path.lexists(latest):
        os.unlink(latest)
    os.symlink(os.path.basename(path), latest)
    prune(state_dir, module.params["keep"])
    module.exit_json(changed=True, manifest=manifest, path=path, missing=missing)


if __name__ == "__main__":
    main()
