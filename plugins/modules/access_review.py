#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: access_review
short_description: Review who and what can get into a Linux host, against an approved baseline
description:
  - Collects local accounts (C(/etc/passwd), C(/etc/shadow)), members of administrator groups
    (C(/etc/group)), sudo rules (C(/etc/sudoers) and every file it includes, skipping
    C(includedir) files whose name ends in C(~) or contains a C(.), as sudo does), SSH
    authorized keys of every account (C(~/.ssh/authorized_keys) and C(authorized_keys2)), the
    last login of every account (C(lastlog)) and listening TCP and UDP sockets (C(ss), or
    C(/proc/net) when C(ss) is missing).
  - Compares them with the approved baseline given as options and returns findings in the
    maint role result shape (C(id), C(severity), C(message), C(recommendation)).
  - Returns a RV(snapshot) of users, administrator group members, sudo rules, key fingerprints
    per user and listeners; pass an earlier snapshot as O(compare_to) to report everything that
    appeared since.
  - Read-only; never changes the host (C(changed) is always false). Supports check mode.
  - Never returns password hashes, only their state (C(set), C(locked), C(empty),
    C(no_password), C(unknown)) and the age of the last password change.
  - When C(lastlog) or C(ss) is missing, that part is skipped (C(ss) falls back to
    C(/proc/net)) and an C(info) finding says what could not be checked.
version_added: "0.1.0"
author: maint developers
options:
  approved_users:
    description:
      - Accounts allowed to exist. Every account with a UID of at least O(min_uid_human), or
        that can log in (UID 0, a usable or empty password, or an interactive shell that is not
        locked or has SSH keys), and is not listed gives a C(access_review.unapproved_user)
        finding. C(root) is always approved.
      - When not set, accounts are not compared with a list.
    type: list
    elements: str
  approved_admins:
    description:
      - Users allowed in the O(admin_groups), as listed members or by primary group. Others
        give C(access_review.unapproved_admin). C(root) is always approved.
      - When not set, administrator group members are reported but not compared.
    type: list
    elements: str
  admin_groups:
    description: Groups that give administrator rights.
    type: list
    elements: str
    default: [sudo, wheel, admin]
  approved_nopasswd:
    description:
      - Users (V(alice)) and groups (V(%ops) or V(ops)) allowed sudo rules without a password.
        Any other NOPASSWD rule (or C(Defaults !authenticate)) gives C(access_review.nopasswd),
        C(high) when it allows every command.
    type: list
    elements: str
    default: []
  approved_keys:
    description:
      - Approved SSH key fingerprints per user, as printed by C(ssh-keygen -lf)
        (V(SHA256:...); the prefix is optional).
      - A key of a listed user that is not in the user's list gives
        C(access_review.unapproved_key). Keys of users not listed are only flagged when
        O(strict_keys) is true.
      - When not set, keys are reported but not compared (unless O(strict_keys) is true).
    type: dict
  strict_keys:
    description: Treat a user missing from O(approved_keys) as having no approved keys.
    type: bool
    default: false
  allowed_listeners:
    description:
      - Listening sockets allowed, as V(proto/port), V(proto/address:port),
        V(proto/*:port) or V(proto/[ipv6]:port), for example V(tcp/22),
        V(tcp/127.0.0.1:5432), V(udp/*:123), V(tcp/[::1]:5432). The protocol defaults to tcp.
      - Any other listener gives C(access_review.unapproved_listener), C(high) when it is
        reachable from the network and C(low) when bound to loopback only.
      - When not set, listeners are reported but not compared.
    type: list
    elements: str
  stale_days:
    description:
      - An account with a login shell whose last login is older than this many days gives
        C(access_review.stale_account); one that never logged in and was set up (last password
        change) longer ago gives C(access_review.never_logged_in).
    type: int
    default: 90
  max_password_age_days:
    description:
      - A usable password older than this gives C(access_review.password_age), C(low), or
        C(medium) beyond twice this age.
    type: int
    default: 365
  min_uid_human:
    description: Lowest UID of a person's account; lower UIDs (and 65534) are system accounts.
    type: int
    default: 1000
  root:
    description:
      - Prefix for every file read (C(/etc/passwd), home directories, C(/proc/net)...), to
        review a mounted image or a sample tree.
      - Commands (C(lastlog), C(ss)) always run on the live host.
    type: path
    default: /
  ignore_users:
    description:
      - Accounts to leave alone in later remediation, such as the account Ansible connects
        with. They are still reviewed; they are marked C(ignored) in RV(accounts) and returned
        in RV(ignore_users).
    type: list
    elements: str
    default: []
  compare_to:
    description:
      - An earlier RV(snapshot). Every user, administrator group member, sudo rule, SSH key
        and listener present now but not in it gives C(access_review.appeared_during_window)
        (C(high)).
    type: dict
notes:
  - Run with privilege escalation; without it C(/etc/shadow), C(/etc/sudoers) and other users'
    home directories cannot be read and C(info) findings say so.
  - Only the default C(AuthorizedKeysFile) locations are read.
"""

EXAMPLES = r"""
- name: Review access against the approved baseline
  maint.preventive.access_review:
    approved_users: [alice, bob, deploy]
    approved_admins: [alice]
    approved_nopasswd: [deploy]
    approved_keys:
      alice: ["SHA256:YcqTxBKs5cElt02UjJXZt38DhbHuND0p9dNiFpgl6LI"]
      deploy: ["SHA256:MRIhbXDl43Mj4PyPWlOj2ZvpAjwPCDjA9t49gNse+SI"]
    strict_keys: true
    allowed_listeners: [tcp/22, tcp/127.0.0.1:5432, udp/*:123]
    stale_days: 90
  become: true
  register: access_before

- name: After the window, report what appeared
  maint.preventive.access_review:
    compare_to: "{{ access_before.snapshot }}"
  become: true
  register: access_after
"""

RETURN = r"""
accounts:
  description:
    - Every account of C(/etc/passwd) with C(name), C(uid), C(gid), C(gecos), C(home),
      C(shell), C(login_shell) (interactive shell), C(password_state) (C(set), C(locked),
      C(empty), C(no_password), C(unknown)), C(password_age_days) (days since the last
      password change, null when unknown), C(human) (UID in the range of people),
      C(has_keys) and C(ignored).
  returned: always
  type: list
  elements: dict
admin_members:
  description: Members of each administrator group present on the host, by group name.
  returned: always
  type: dict
  sample: {"sudo": ["alice", "eve"]}
sudo_rules:
  description:
    - Every sudo user specification with C(file), C(line), C(text), C(users), C(principals)
      (users after alias expansion; groups start with C(%)), C(hosts), C(commands) (each with
      C(command), C(expanded) (after Cmnd_Alias expansion), C(runas), C(nopasswd), C(all)),
      C(nopasswd), C(all_commands) and C(nopasswd_all).
  returned: always
  type: list
  elements: dict
authorized_keys:
  description:
    - Every SSH key a user accepts, with C(user), C(file), C(line), C(type), C(bits),
      C(fingerprint) (V(SHA256:...), as C(ssh-keygen -lf)), C(comment), C(options) and
      C(weak).
  returned: always
  type: list
  elements: dict
last_logins:
  description:
    - Last login per account from C(lastlog), with C(user), C(never_logged_in), C(latest)
      (ISO 8601), C(days_ago), C(port) and C(from). Empty when C(lastlog) is missing.
  returned: always
  type: list
  elements: dict
listeners:
  description:
    - Listening TCP and UDP sockets with C(proto), C(address), C(port), C(process) (empty when
      read from C(/proc/net)), C(loopback) and C(spec) (V(tcp/0.0.0.0:22)).
  returned: always
  type: list
  elements: dict
findings:
  description:
    - Findings in the maint role result shape, each with C(id), C(severity), C(message) and
      C(recommendation). Ids are C(access_review.uid0), C(access_review.empty_password),
      C(access_review.password_age), C(access_review.system_account_shell),
      C(access_review.unapproved_user), C(access_review.unapproved_admin),
      C(access_review.nopasswd), C(access_review.unapproved_key), C(access_review.weak_key),
      C(access_review.stale_account), C(access_review.never_logged_in),
      C(access_review.unapproved_listener), C(access_review.appeared_during_window),
      C(access_review.not_checked) and C(access_review.unparsed_key_lines).
  returned: always
  type: list
  elements: dict
snapshot:
  description:
    - Picture for a before/after comparison (pass it to O(compare_to)), with C(users),
      C(admin_members) (group to members), C(sudo_rules) (rule texts), C(keys) (user to
      fingerprints) and C(listeners) (specs). Contains no secrets.
  returned: always
  type: dict
ignore_users:
  description: The O(ignore_users) option, carried through for remediation decisions.
  returned: always
  type: list
  elements: str
remediation:
  description:
    - What remediation may change (never an account in O(ignore_users)), namely
      C(lock_accounts) (stale accounts, to expire) and C(remove_keys) (unapproved keys,
      each with C(user), C(file), C(fingerprint) and C(key), the public key type and base64
      text).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.access_review import (
    collect,
)

NOT_FOUND = 127

ARGUMENT_SPEC = dict(
    approved_users=dict(type="list", elements="str"),
    approved_admins=dict(type="list", elements="str"),
    admin_groups=dict(type="list", elements="str", default=["sudo", "wheel", "admin"]),
    approved_nopasswd=dict(type="list", elements="str", default=[]),
    approved_keys=dict(type="dict"),
    strict_keys=dict(type="bool", default=False),
    allowed_listeners=dict(type="list", elements="str"),
    stale_days=dict(type="int", default=90),
    max_password_age_days=dict(type="int", default=365, no_log=False),
    min_uid_human=dict(type="int", default=1000),
    root=dict(type="path", default="/"),
    ignore_users=dict(type="list", elements="str", default=[]),
    compare_to=dict(type="dict"),
)


def command_runner(module):
    """run_command for collect(): rc 127 when the program is not installed."""

    def run(argv):
        path = module.get_bin_path(argv[0], opt_dirs=["/usr/sbin", "/sbin"])
        if path is None:
            return NOT_FOUND, "", "%s: command not found" % argv[0]
        return module.run_command(
            [path, *argv[1:]], environ_update={"LANG": "C", "LC_ALL": "C", "TZ": "UTC"}
        )

    return run


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    params = dict(module.params)
    try:
        result = collect(params["root"], params, command_runner(module))
    except (OSError, ValueError) as exc:
        module.fail_json(msg="access review failed: %s" % exc)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
