#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: hardening_guard
short_description: Check that the maintenance account keeps key-based SSH access and sudo
description:
  - Read-only lockout guard of the hardening role, run before any access-related change.
  - Reads the live sshd configuration (C(sshd -T)), the account's authorized keys files (as
    sshd resolves C(AuthorizedKeysFile)), its groups and C(sudo -l -U user), and evaluates the
    sshd settings the run is about to apply.
  - Never changes the host and never fails on a problem; it returns C(safe) and C(problems) so
    the role can publish its result before refusing.
version_added: "0.1.0"
author: maint developers
options:
  user:
    description: The account operators connect with.
    type: str
    required: true
  planned:
    description: sshd keyword -> value the run applies (e.g. PermitRootLogin no).
    type: dict
    default: {}
  allow_root_lockout:
    description: Accept disabling root login when the account is root.
    type: bool
    default: false
  sshd_path:
    description: Path of the sshd binary.
    type: path
    default: /usr/sbin/sshd
  addr:
    description: The client address of the connection sshd evaluates (C(sshd -T -C addr=)).
    type: str
    default: 127.0.0.1
  host:
    description: The client host name (C(sshd -T -C host=)); the address when empty.
    type: str
    default: ""
  client_algorithms:
    description:
      - sshd -T keyword (C(kexalgorithms), C(hostkeyalgorithms)) -> the names the control node's
        ssh supports (C(ssh -Q kex), C(ssh -Q key)); a planned list sharing none is a problem.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Refuse to lock the maintenance account out
  maint.preventive.hardening_guard:
    user: maint
    planned:
      PermitRootLogin: "no"
      PasswordAuthentication: "no"
  register: guard
"""

RETURN = r"""
safe:
  description: True when the account keeps key-based access and sudo after the planned change.
  returned: always
  type: bool
problems:
  description: Plain-language reasons the change could lock the account out.
  returned: always
  type: list
  elements: str
user:
  description: The account checked.
  returned: always
  type: str
keys:
  description: Authorized keys file -> number of keys found.
  returned: always
  type: dict
sudo:
  description: Whether the account keeps sudo (root always does).
  returned: always
  type: bool
groups:
  description: The account's groups.
  returned: always
  type: list
  elements: str
effective:
  description: The live sshd configuration for the account (sshd -T, lower-case keywords).
  returned: always
  type: dict
home:
  description: The account's home directory (empty when the account does not exist).
  returned: always
  type: str
"""

import contextlib
import grp
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.hardening import (
    SUDO_GROUPS,
    authorized_keys_paths,
    count_keys,
    lockout_problems,
    parse_sshd_t,
    sudo_allows,
)

ENV = {"LANG": "C", "LC_ALL": "C"}


def _groups(user, gid):
    names = [g.gr_name for g in grp.getgrall() if user in g.gr_mem]
    with contextlib.suppress(KeyError):
        names.append(grp.getgrgid(gid).gr_name)
    return sorted(set(names))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            user=dict(type="str", required=True),
            planned=dict(type="dict", default={}),
            allow_root_lockout=dict(type="bool", default=False),
            sshd_path=dict(type="path", default="/usr/sbin/sshd"),
            addr=dict(type="str", default="127.0.0.1"),
            host=dict(type="str", default=""),
            client_algorithms=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    user = module.params["user"]
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        entry = None
    effective = {}
    keys = {}
    groups = []
    sudo = False
    if entry is not None:
        argv = [
            module.params["sshd_path"],
            "-T",
            "-C",
            "user=%s,host=%s,addr=%s"
            % (
                user,
                module.params["host"] or module.params["addr"],
                module.params["addr"],
            ),
        ]
        rc, out, err = module.run_command(argv, environ_update=ENV)
        if rc != 0:
            module.fail_json(msg="sshd -T failed: %s" % (err or out).strip(), rc=rc)
        effective = parse_sshd_t(out)
        for path in authorized_keys_paths(effective, user, entry.pw_dir):
            try:
                with open(path) as handle:
                    keys[path] = count_keys(handle.read())
            except OSError:
                keys[path] = 0
        groups = _groups(user, entry.pw_gid)
        if user == "root":
            sudo = True
        else:
            rc, out, err = module.run_command(["sudo", "-n", "-l", "-U", user], environ_update=ENV)
            sudo = (rc == 0 and sudo_allows(out, user)) or any(g in SUDO_GROUPS for g in groups)
    problems = lockout_problems(
        user,
        entry is not None,
        keys,
        sudo,
        effective,
        module.params["planned"],
        groups=groups,
        allow_root_lockout=module.params["allow_root_lockout"],
        client_algorithms=module.params["client_algorithms"],
    )
    module.exit_json(
        changed=False,
        safe=not problems,
        problems=problems,
        user=user,
        keys=keys,
        sudo=sudo,
        groups=groups,
        home=entry.pw_dir if entry else "",
        effective=effective,
    )


if __name__ == "__main__":
    main()
