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
  - Lists every change the chosen updates make (C(changes), the data.changes entries of
    PATCH-04), each update with its versions and every other package apt installs or upgrades
    with it (C(pulls)), and each package the transaction removes. An update apt cannot install
    (a broken dependency, a version gone from the sources) is left out of C(selected) and listed
    with C(would_fail) and apt's reason, instead of failing the plan.
  - Read-only; never changes the host except refreshing the package lists outside check mode
    (C(refresh)). Simulations write their logs in a temporary directory and no binary cache; in
    check mode the lists are refreshed in a temporary copy. Supports check mode.
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
  refresh:
    description: Refresh the package lists first (in check mode, a temporary copy of them).
    type: bool
    default: false
  cache_valid_time:
    description: Lists younger than this many seconds are not refreshed.
    type: int
    default: 0
  private_lists:
    description:
      - Refresh the lists in a temporary copy, not in /var/lib/apt/lists. Defaults to the
        module's check mode; a role that runs this probe with C(check_mode false) in a check run
        passes C(ansible_check_mode), so a plan writes nothing.
    type: bool
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
changes:
  description: The data.changes entries of PATCH-04 (see docs/role-contract.md).
  returned: always
  type: list
  elements: dict
would_fail:
  description: Chosen update -> why apt cannot install it (left out of C(selected)).
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.apt_lists import AptSession
from ansible_collections.maint.preventive.plugins.module_utils.apt_sim import (
    install_plan,
    is_security,
    parse_simulation,
    select_updates,
    update_changes,
)
from ansible_collections.maint.preventive.plugins.module_utils.patch_baseline import (
    BaselineError,
    choose,
)


def _pin(package):
    return "%s=%s" % (package["name"], package["candidate"])


class Planner:
    """apt's simulations of one run: pending updates, the chosen transaction, and what each
    chosen update pulls; an update apt cannot install is set aside with apt's reason."""

    def __init__(self, module, apt, patterns):
        self.module = module
        self.apt = apt
        self.patterns = patterns
        self.would_fail = {}
        self.failed = {}

    def simulate(self, args):
        rc, out, error = self.apt.simulate(args)
        if rc != 0:
            return None, error
        packages = parse_simulation(out)
        for pkg in packages:
            pkg["security"] = is_security(pkg, self.patterns)
        return packages, ""

    def pending(self):
        packages, error = self.simulate(["dist-upgrade"])
        if packages is None:
            self.module.fail_json(msg="apt-get -s dist-upgrade failed: %s" % error)
        return packages

    def install(self, chosen):
        """The transaction of installing ``chosen`` at their candidate versions; an update apt
        cannot install is set aside (would_fail) and the rest simulated again."""
        chosen = [p for p in chosen if p["name"] not in self.would_fail]
        if not chosen:
            return []
        args = ["install", "--no-install-recommends"]
        transaction, error = self.simulate([*args, *map(_pin, chosen)])
        if transaction is not None:
            return transaction
        for pkg in chosen:
            alone, why = self.simulate([*args, _pin(pkg)])
            if alone is None:
                self.would_fail[pkg["name"]] = "apt cannot install %s %s: %s" % (
                    pkg["name"],
                    pkg["candidate"],
                    why,
                )
                self.failed[pkg["name"]] = pkg
        rest = [p for p in chosen if p["name"] not in self.would_fail]
        if len(rest) == len(chosen):
            self.module.fail_json(msg="apt-get -s install failed: %s" % error)
        return self.install(rest)

    def pulls(self, transaction, chosen_names):
        """{chosen update: [name version it pulls]}: apt's simulation of each one alone, only
        when the transaction holds packages nobody chose."""
        if all(p["name"] in chosen_names for p in transaction):
            return {}
        out = {}
        for pkg in transaction:
            if pkg["name"] not in chosen_names or pkg["action"] not in ("install", "upgrade"):
                continue
            alone, _error = self.simulate(["install", "--no-install-recommends", _pin(pkg)])
            if alone is not None:
                out[pkg["name"]] = install_plan(alone, pkg["name"])["pulls"]
        return out


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
            refresh=dict(type="bool", default=False),
            cache_valid_time=dict(type="int", default=0),
            private_lists=dict(type="bool"),
        ),
        supports_check_mode=True,
    )
    if not os.path.exists("/usr/bin/apt-get"):
        module.fail_json(msg="apt-get not found: apt_pending works on Debian-family hosts only")
    patterns = module.params["security_patterns"]

    rc, out, _err = module.run_command(["apt-mark", "showhold"], environ_update={"LANG": "C"})
    held = sorted(line.strip() for line in out.splitlines() if line.strip()) if rc == 0 else []

    with AptSession(
        module,
        refresh=module.params["refresh"],
        cache_valid_time=module.params["cache_valid_time"],
        check_mode=module.params["private_lists"],
    ) as apt:
        planner = Planner(module, apt, patterns)
        pending = planner.pending()
        # the updates proper: upgrades of installed packages (what a new package the
        # transaction installs is pulled in by)
        updates = {p["name"] for p in pending if p["action"] == "upgrade"}
        if module.params["baseline"]:
            try:
                pending, transaction, skipped = choose(
                    pending,
                    module.params["baseline"],
                    planner.install,
                    module.params["first_seen"],
                    held,
                )
            except BaselineError as exc:
                module.fail_json(msg="patch baseline: %s" % exc)
        else:
            selected, skipped = select_updates(
                pending,
                allow=module.params["allow"],
                deny=module.params["deny"],
                held=held,
                security_only=module.params["security_only"],
                patterns=patterns,
            )
            transaction = planner.install(selected) if selected else []
        chosen = updates | set(planner.failed)
        pulls = planner.pulls(transaction, chosen)
    module.exit_json(
        changed=False,
        pending=pending,
        selected=transaction,
        skipped=skipped,
        held=held,
        changes=update_changes(
            "PATCH-04",
            transaction,
            chosen,
            pulls,
            list(planner.failed.values()),
            planner.would_fail,
        ),
        would_fail=planner.would_fail,
    )


if __name__ == "__main__":
    main()
