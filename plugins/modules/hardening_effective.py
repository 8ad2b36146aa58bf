#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: hardening_effective
short_description: Read where the effective sysctl, PAM, pwquality and sudoers settings come from
description:
  - Read-only probe of the hardening role, also in check mode; never changes the host.
  - C(sysctl) - the value each key gets at boot from the sysctl.d files and /etc/sysctl.conf in
    C(sysctl --system)'s order (the last assignment wins), with the file and line, and the
    assignments it overrides.
  - C(pam) - whether a PAM module is in the effective stack of a service (C(@include),
    C(include) and C(substack) followed), with the file and line, and whether the module's
    file exists.
  - C(pwquality) - the pwquality settings in effect (pwquality.conf, pwquality.conf.d, then the
    pam_pwquality arguments of the C(passwd) password stack).
  - C(sudoers) - every file and include directory sudo reads, in sudo's order
    (C(@includedir)/C(#includedir), C(@include)/C(#include)).
version_added: "0.2.0"
author: maint developers
options:
  sysctl:
    description: sysctl keys whose persisted value to find.
    type: list
    elements: str
    default: []
  pam:
    description: Each C(control), C(service), C(type) and C(module) (e.g. pam_pwquality.so).
    type: list
    elements: dict
    default: []
  pwquality:
    description: Read the pwquality settings.
    type: bool
    default: false
  sudoers:
    description: Read the sudoers include tree.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the effective settings
  maint.preventive.hardening_effective:
    sysctl: [kernel.kptr_restrict]
    pam:
      - {control: AUTH-03, service: passwd, type: password, module: pam_pwquality.so}
    pwquality: true
    sudoers: true
  register: effective
"""

RETURN = r"""
sysctl:
  description: key -> C(value), C(source) (FILE:LINE) and C(overridden) (the assignments it
    overrides), or null when no file sets it.
  returned: always
  type: dict
sysctl_files:
  description: The sysctl files in the order they are applied.
  returned: always
  type: list
  elements: str
pam:
  description: control -> C(service), C(type), C(module), C(found), C(source), C(module_file).
  returned: always
  type: dict
pwquality:
  description: setting -> C(value), C(source).
  returned: always
  type: dict
sudoers:
  description: The sudoers tree, each C(path), C(kind) (file or dir), C(via).
  returned: always
  type: list
  elements: dict
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.effective import (
    pam_module_in,
    pam_stack,
    pwquality_settings,
    sudoers_tree,
    sysctl_assignments,
    sysctl_files,
    sysctl_persisted,
)

PAM_MODULE_DIRS = (
    "/lib/*/security",
    "/usr/lib/*/security",
    "/lib/security",
    "/lib64/security",
    "/usr/lib64/security",
)


def _read(path):
    try:
        with open(path, errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _listdir(directory):
    try:
        return os.listdir(directory)
    except OSError:
        return []


def _module_file(module):
    if module.startswith("/"):
        return module if os.path.exists(module) else ""
    for pattern in PAM_MODULE_DIRS:
        for path in sorted(glob.glob(os.path.join(pattern, module))):
            return path
    return ""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sysctl=dict(type="list", elements="str", default=[]),
            pam=dict(type="list", elements="dict", default=[]),
            pwquality=dict(type="bool", default=False),
            sudoers=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    files = sysctl_files(_listdir)
    assignments = sysctl_assignments(_read, files)
    sysctl = {}
    for key in params["sysctl"]:
        winner, overridden = sysctl_persisted(assignments, key)
        sysctl[key] = (
            None
            if winner is None
            else {
                "value": winner["value"],
                "source": "%s:%d" % (os.path.realpath(winner["path"]), winner["line"]),
                "overridden": [
                    {
                        "value": a["value"],
                        "source": "%s:%d" % (os.path.realpath(a["path"]), a["line"]),
                    }
                    for a in overridden
                ],
            }
        )
    pam = {}
    for item in params["pam"]:
        stack = pam_stack(_read, item["service"], item["type"])
        entry = pam_module_in(stack, item["module"])
        pam[item["control"]] = {
            "service": item["service"],
            "type": item["type"],
            "module": item["module"],
            "found": entry is not None,
            "source": entry["source"] if entry else "",
            "args": entry["args"] if entry else [],
            "module_file": _module_file(item["module"]),
        }
    pwquality = {}
    if params["pwquality"]:
        entry = pam_module_in(pam_stack(_read, "passwd", "password"), "pam_pwquality.so")
        pwquality = pwquality_settings(
            _read,
            _listdir,
            args=entry["args"] if entry else (),
            args_source=entry["source"] if entry else "",
        )
    module.exit_json(
        changed=False,
        sysctl=sysctl,
        sysctl_files=files,
        pam=pam,
        pwquality=pwquality,
        sudoers=sudoers_tree(_read, _listdir) if params["sudoers"] else [],
    )


if __name__ == "__main__":
    main()
