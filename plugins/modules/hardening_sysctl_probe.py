#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: hardening_sysctl_probe
short_description: Read live sysctl values and find out which keys this host can write
description:
  - Read-only probe of the hardening role. For each wanted key reads C(/proc/sys), compares it
    with the wanted value, and tests with access(2) whether the key is writable. In a
    container C(/proc/sys) is usually mounted read-only, so the keys are reported as not
    writable instead of failing the run.
  - Never changes a value.
version_added: "0.1.0"
author: maint developers
options:
  settings:
    description: sysctl key -> wanted value.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Probe the kernel settings
  maint.preventive.hardening_sysctl_probe:
    settings:
      kernel.kptr_restrict: 2
  register: probe
"""

RETURN = r"""
current:
  description: key -> live value (null when the key does not exist on this kernel).
  returned: always
  type: dict
noncompliant:
  description: Keys whose live value differs from the wanted one.
  returned: always
  type: list
  elements: str
writable:
  description: Keys this host can write.
  returned: always
  type: list
  elements: str
not_writable:
  description: Keys that differ and cannot be written here (read-only /proc/sys).
  returned: always
  type: list
  elements: str
missing:
  description: Keys this kernel does not have.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.hardening import (
    sysctl_equal,
    sysctl_path,
)


def _writable(path):
    # access(2) answers EROFS for a read-only /proc/sys (containers) without writing anything.
    return os.access(path, os.W_OK)


def main():
    module = AnsibleModule(
        argument_spec=dict(settings=dict(type="dict", required=True)),
        supports_check_mode=True,
    )
    current, noncompliant, writable, not_writable, missing = {}, [], [], [], []
    for key, wanted in sorted(module.params["settings"].items()):
        path = sysctl_path(key)
        try:
            with open(path) as handle:
                value = handle.read().strip()
        except OSError:
            current[key] = None
            missing.append(key)
            continue
        current[key] = value
        can_write = _writable(path)
        if can_write:
            writable.append(key)
        if not sysctl_equal(value, wanted):
            noncompliant.append(key)
            if not can_write:
                not_writable.append(key)
    module.exit_json(
        changed=False,
        current=current,
        noncompliant=noncompliant,
        writable=writable,
        not_writable=not_writable,
        missing=missing,
    )


if __name__ == "__main__":
    main()
