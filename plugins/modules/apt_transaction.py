#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: apt_transaction
short_description: Plan package installs and removals with apt's own simulation
description:
  - Simulates installing each package of C(install) alone (C(apt-get -s install
    --no-install-recommends) unless C(install_recommends)) to give its version, every other
    package apt would install or upgrade with it (C(pulls)) and, when apt cannot install it from
    the host's sources, why (C(would_fail)); then simulates installing all the installable ones
    together, the exact transaction an apply makes (what rollback must undo).
  - Simulates removing C(remove) (with C(purge), purging), listing every package that goes
    with them.
  - Writes nothing on the host, in check mode or not, except refreshing the package lists
    outside check mode (C(refresh)). In check mode the lists are refreshed in a temporary copy;
    simulations write their logs in a temporary directory; both are removed at the end.
version_added: "0.2.0"
author: maint developers
options:
  install:
    description: Packages to install (names, or C(name=version)).
    type: list
    elements: str
    default: []
  remove:
    description: Packages to remove.
    type: list
    elements: str
    default: []
  purge:
    description: Simulate purging (configuration files too) instead of removing.
    type: bool
    default: false
  install_recommends:
    description: Let apt install recommended packages too.
    type: bool
    default: false
  refresh:
    description: Refresh the package lists first (a temporary copy in check mode).
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
  package_files:
    description:
      - Path -> package. For each package the transaction newly installs, the content that
        package ships at that path (downloaded into the temporary directory and read from the
        .deb), so a plan can show the diff of a file the role changes after the package created
        it. A value C(package:/shipped/path) reads another path of the .deb, the template a
        maintainer script installs at the path unchanged (with ucf, as aide-common does for
        C(/etc/aide/aide.conf)).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Plan the installs of the hardening controls
  maint.preventive.apt_transaction:
    install: [libpam-pwquality, needrestart]
    refresh: true
    cache_valid_time: 3600
  register: plan
"""

RETURN = r"""
install:
  description:
    - name -> C(version), C(current), C(action) (install or upgrade), C(pulls) (C(name version)
      of every other package installed or upgraded with it), C(removes), C(would_fail).
  returned: always
  type: dict
transaction:
  description:
    - The packages installing every installable package together changes (C(name),
      C(current), C(candidate), C(arch), C(origins), C(action)), dependencies included.
  returned: always
  type: list
  elements: dict
new_packages:
  description: Names the transaction newly installs (what a rollback purges).
  returned: always
  type: list
  elements: str
removal:
  description: C(packages) the removal takes away (the simulation), C(would_fail).
  returned: always
  type: dict
refreshed:
  description: Whether the package lists were refreshed.
  returned: always
  type: bool
refresh_error:
  description: Why refreshing the lists failed (the simulation used the lists as they were).
  returned: always
  type: str
package_files:
  description: Path -> the content the package of C(package_files) ships there.
  returned: always
  type: dict
"""

import os
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.apt_lists import AptSession
from ansible_collections.maint.preventive.plugins.module_utils.apt_sim import (
    install_plan,
    parse_simulation,
)


def _name(spec):
    return spec.split("=", 1)[0]


def _shipped(module, apt, package, path):
    """The content ``package`` (its candidate version) ships at ``path``, or None."""
    rc, _out, _err = module.run_command(
        ["apt-get", "download", "-q", *apt.options(), package], cwd=apt.tmp
    )
    if rc != 0:
        return None
    debs = sorted(
        n for n in os.listdir(apt.tmp) if n.startswith(package + "_") and n.endswith(".deb")
    )
    if not debs:
        return None
    deb = os.path.join(apt.tmp, debs[-1])
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True, check=False)
    if tar.returncode != 0:
        return None
    member = subprocess.run(
        ["tar", "-xO", "." + path], input=tar.stdout, capture_output=True, check=False
    )
    if member.returncode != 0:
        return None
    return member.stdout.decode("utf-8", errors="replace")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            install=dict(type="list", elements="str", default=[]),
            remove=dict(type="list", elements="str", default=[]),
            purge=dict(type="bool", default=False),
            install_recommends=dict(type="bool", default=False),
            refresh=dict(type="bool", default=False),
            cache_valid_time=dict(type="int", default=0),
            private_lists=dict(type="bool"),
            package_files=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not os.path.exists("/usr/bin/apt-get"):
        module.fail_json(msg="apt-get not found: apt_transaction works on Debian-family hosts only")
    recommends = [] if params["install_recommends"] else ["--no-install-recommends"]
    install, transaction, removal = {}, [], {"packages": [], "would_fail": None}
    with AptSession(
        module,
        refresh=params["refresh"],
        cache_valid_time=params["cache_valid_time"],
        check_mode=params["private_lists"],
    ) as apt:
        for spec in params["install"]:
            rc, out, error = apt.simulate(["install", *recommends, spec])
            if rc != 0:
                install[_name(spec)] = {
                    "name": _name(spec),
                    "version": None,
                    "current": None,
                    "action": None,
                    "pulls": [],
                    "removes": [],
                    "would_fail": "apt cannot install %s from this host's sources: %s"
                    % (_name(spec), error),
                }
                continue
            plan = install_plan(parse_simulation(out), _name(spec))
            plan["would_fail"] = None
            if plan["removes"]:
                plan["would_fail"] = "installing %s would remove %s" % (
                    _name(spec),
                    ", ".join(plan["removes"]),
                )
            install[_name(spec)] = plan
        ok = [s for s in params["install"] if not install[_name(s)]["would_fail"]]
        if ok:
            rc, out, error = apt.simulate(["install", *recommends, *ok])
            if rc == 0:
                transaction = parse_simulation(out)
                # What each package pulls when installed alone, limited to what the whole
                # transaction installs: a dependency another package of the set satisfies
                # (aide-common's systemd-sysusers by systemd-standalone-sysusers) is not pulled.
                moving = {p["name"] for p in transaction if p["action"] in ("install", "upgrade")}
                for spec in ok:
                    plan = install[_name(spec)]
                    plan["pulls"] = [d for d in plan["pulls"] if d.split()[0] in moving]
            else:
                for spec in ok:
                    install[_name(spec)]["would_fail"] = "apt cannot install %s together: %s" % (
                        ", ".join(map(_name, ok)),
                        error,
                    )
        if params["remove"]:
            verb = "purge" if params["purge"] else "remove"
            installed = [
                n
                for n in params["remove"]
                if module.run_command(["dpkg-query", "-W", "-f", "${Status}", n])[1].endswith(
                    " installed"
                )
            ]
            if installed:
                rc, out, error = apt.simulate([verb, *installed])
                if rc == 0:
                    removal["packages"] = parse_simulation(out)
                else:
                    removal["would_fail"] = "apt cannot %s %s: %s" % (
                        verb,
                        ", ".join(installed),
                        error,
                    )
        new = {p["name"] for p in transaction if p["action"] == "install"}
        shipped = {}
        for path, spec in params["package_files"].items():
            package, _sep, source = spec.partition(":")
            if package in new:
                text = _shipped(module, apt, package, source or path)
                if text is not None:
                    shipped[path] = text
        refreshed, refresh_error = apt.refreshed, apt.refresh_error
    module.exit_json(
        changed=False,
        install=install,
        transaction=transaction,
        new_packages=[p["name"] for p in transaction if p["action"] == "install"],
        removal=removal,
        refreshed=refreshed,
        refresh_error=refresh_error,
        package_files=shipped,
    )


if __name__ == "__main__":
    main()
