#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: dpkg_status
short_description: List the installed Debian packages with their source packages
description:
  - Reads the dpkg status file and returns every installed package with its version, its
    source package and the source version, the inputs a vulnerability feed is matched against.
  - The control node judges the host with C(debsecan) from this list; nothing is installed on
    the host. Read-only; supports check mode.
version_added: "0.2.0"
author: maint developers
options:
  path:
    description: The dpkg status file.
    type: path
    default: /var/lib/dpkg/status
"""

EXAMPLES = r"""
- name: Read the installed packages
  maint.preventive.dpkg_status:
  register: installed
"""

RETURN = r"""
packages:
  description: Installed packages as [name, version, source, source version, architecture].
  returned: always
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule


def _stanzas(text):
    fields = {}
    last = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, last = {}, None
        elif line[:1] in (" ", "\t"):
            continue  # a continuation line (descriptions, conffiles): not needed
        elif ":" in line:
            last, _, value = line.partition(":")
            fields[last] = value.strip()
    if fields:
        yield fields


def installed_packages(text):
    """[name, version, source, source version, arch] of every installed package, sorted."""
    found = []
    for fields in _stanzas(text):
        if fields.get("Status", "").split()[-1:] != ["installed"]:
            continue
        name, version = fields.get("Package"), fields.get("Version")
        if not name or not version:
            continue
        source, source_version = name, version
        if fields.get("Source"):
            parts = fields["Source"].split()
            source = parts[0]
            if len(parts) > 1 and parts[1].startswith("(") and parts[1].endswith(")"):
                source_version = parts[1][1:-1]
        found.append([name, version, source, source_version, fields.get("Architecture", "")])
    return sorted(found)


def main():
    module = AnsibleModule(
        argument_spec={"path": {"type": "path", "default": "/var/lib/dpkg/status"}},
        supports_check_mode=True,
    )
    try:
        with open(module.params["path"], encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError as exc:
        module.fail_json(msg=f"{module.params['path']}: {exc.strerror or exc}")
    module.exit_json(changed=False, packages=installed_packages(text))


if __name__ == "__main__":
    main()
