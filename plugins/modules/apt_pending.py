#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: apt_pending
short_description: List pending apt updates and the exact transaction that applying them makes
description:
  - Simulates C(apt-get dist-upgrade) to list every pending update with its installed and
    candidate version and whether it comes from a security archive.
  - Applies the allow list, deny list, holds and the security-only mode to choose the upgrades,
    then simulates installing exactly those to return the full transaction, new dependencies
    included.
  - With O(baseline) (a patch baseline, see docs/roles/patching.md) the baseline decides
    instead of O(security_only), O(allow) and O(deny) - every pending update gets C(decision)
    (in or out), C(reason), C(classification), C(first_seen) and C(age_days), judged as of the
    baseline's C(as_of), and the transaction is simulated for the updates that are in.
  - Read-only; never changes the host. Supports check mode.
  - Does not need python3-apt; it reads C(apt-get -s) output.
version_added: "0.1.0"
author: maint developers
options:
  security_only:
    description: Only choose updates whose candidate comes from a security archive.
    type: bool
    default: false
  allow:
    description: Shell-style patterns; when not empty, only matching packages are chosen.
    type: list
    elements: str
    default: []
  deny:
    description: Shell-style patterns of packages never chosen.
    type: list
    elements: str
    default: []
  security_patterns:
    description: Patterns matched against each origin (label, archive) to call an update security.
    type: list
    elements: str
    default: ["*-security", "Debian-Security*", "*security*"]
  baseline:
    description:
      - The host's patch baseline as the C(maint.preventive.patching_baseline) filter returns it
        (C(name), C(source), C(group), C(as_of), C(policy)); empty for none.
    type: dict
    default: {}
  first_seen:
    description:
      - C(NAME=VERSION) to the instant (C(YYYY-MM-DDTHH:MM:SSZ)) that version was first seen
        pending on this host; an update not listed is first seen as of the baseline's C(as_of).
    type: dict
    default: {}
notes:
  - Packages on hold (C(apt-mark hold)) are never chosen.
"""

EXAMPLES = r"""
- name: List pending updates
  maint.preventive.apt_pending:
    security_only: false
    deny: ["linux-image-*"]
  register: pending
"""

RETURN = r"""
pending:
  description: Every pending update (name, current, candidate, arch, origins, action, security).
  returned: always
  type: list
  elements: dict
selected:
  description: The transaction that applying the chosen updates makes, dependencies included.
  returned: always
  type: list
  elements: dict
skipped:
  description: Pending upgrades left out, with the reason (the baseline's reason with one).
  returned: always
  type: dict
held:
  description: Packages on hold.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.apt_sim import (
    is_security,
    parse_simulation,
    select_updates,
)
from ansible_collections.maint.preventive.plugins.module_utils.patch_baseline import (
    BaselineError,
    choose,
)

APT_SIM = ["apt-get", "-s", "-q", "-o", "Debug::NoLocking=1"]


def simulate(module, args):
    env = {"LANG": "C", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
    rc, out, err = module.run_command(APT_SIM + args, environ_update=env)
    if rc != 0:
        module.fail_json(msg="apt-get -s %s failed: %s" % (" ".join(args), err.strip() or out))
    return parse_simulation(out)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            security_only=dict(type="bool", default=False),
            allow=dict(type="list", elements="str", default=[]),
            deny=dict(type="list", elements="str", default=[]),
            security_patterns=dict(
                type="list",
                elements="str",
                default=["*-security", "Debian-Security*", "*security*"],
            ),
            baseline=dict(type="dict", default={}),
            first_seen=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    if not os.path.exists("/usr/bin/apt-get"):
        module.fail_json(msg="apt-get not found: apt_pending works on Debian-family hosts only")
    patterns = module.params["security_patterns"]

    rc, out, _err = module.run_command(["apt-mark", "showhold"], environ_update={"LANG": "C"})
    held = sorted(line.strip() for line in out.splitlines() if line.strip()) if rc == 0 else []

    pending = simulate(module, ["dist-upgrade"])
    for pkg in pending:
        pkg["security"] = is_security(pkg, patterns)

    def install(chosen):
        pins = ["%s=%s" % (p["name"], p["candidate"]) for p in chosen]
        transaction = simulate(module, ["install", "--no-install-recommends", *pins])
        for pkg in transaction:
            pkg["security"] = is_security(pkg, patterns)
        return transaction

    if module.params["baseline"]:
        try:
            pending, transaction, skipped = choose(
                pending, module.params["baseline"], install, module.params["first_seen"], held
            )
        except BaselineError as exc:
            module.fail_json(msg="patch baseline: %s" % exc)
        module.exit_json(
            changed=False, pending=pending, selected=transaction, skipped=skipped, held=held
        )
    selected, skipped = select_updates(
        pending,
        allow=module.params["allow"],
        deny=module.params["deny"],
        held=held,
        security_only=module.params["security_only"],
        patterns=patterns,
    )
    transaction = install(selected) if selected else []
    module.exit_json(
        changed=False, pending=pending, selected=transaction, skipped=skipped, held=held
    )


if __name__ == "__main__":
    main()
