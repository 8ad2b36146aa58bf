#!/usr/bin/python
# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
---
module: hardening_sshd
short_description: Judge the sshd controls on the effective configuration, and fix what is not
description:
  - Reads the effective sshd configuration with C(sshd -T -C user=...,host=...,addr=...) for the
    connecting account (and for root, for C(PermitRootLogin)), so Match blocks count, and
    judges every directive of the enabled SSH controls on it, whatever file or order set it.
  - Follows the Include chain in sshd's order to name the file and line that set each
    effective value, notes when the role's drop-in is overridden, and lists every other line
    that sets a non-compliant value that does not apply now (latent risk).
  - Plans the fix of each non-compliant directive with the least change that takes effect, the
    role's drop-in when it would win, else the line that wins, changed in place. Every
    candidate is validated with C(sshd -t -f) on a copy of the complete configuration in a
    temporary directory (removed afterwards), and C(sshd -T -f) on that copy predicts whether
    the change takes effect; a control that would not is marked C(would_fail).
  - With C(state=audit) nothing is written on the host (also outside check mode). With
    C(state=apply) the planned edits of the controls in C(scope) are written (validated first,
    and the live configuration is validated again after the write, restored when it fails).
version_added: "0.2.0"
author: maint developers
options:
  entries:
    description:
      - One per control, C(control) and C(lines), each C(key) (as written in sshd_config),
        C(value) and C(compare) (C(eq), C(subset), C(max)).
    type: list
    elements: dict
    required: true
  state:
    description: C(audit) judges and plans; C(apply) also writes the controls in C(scope).
    type: str
    choices: [audit, apply]
    default: audit
  scope:
    description: The controls to fix (state=apply).
    type: list
    elements: str
    default: []
  dropin:
    description: The role's drop-in file.
    type: path
    default: /etc/ssh/sshd_config.d/00-maint-hardening.conf
  config:
    description: The main sshd configuration file.
    type: path
    default: /etc/ssh/sshd_config
  user:
    description: The account operators connect with (the C(user=) of C(sshd -T -C)).
    type: str
    required: true
  host:
    description: The client host name for C(sshd -T -C).
    type: str
    default: ""
  addr:
    description: The client address for C(sshd -T -C).
    type: str
    default: 127.0.0.1
  root_keys:
    description: Keywords judged for user root (root login).
    type: list
    elements: str
    default: [PermitRootLogin]
  sshd_path:
    description: Path of the sshd binary.
    type: path
    default: /usr/sbin/sshd
"""

EXAMPLES = r"""
- name: Judge the SSH controls on the effective configuration
  maint.preventive.hardening_sshd:
    user: maint
    entries:
      - control: SSH-01
        lines: [{key: PermitRootLogin, value: "no"}]
  check_mode: true
  register: sshd_audit
"""

RETURN = r"""
controls:
  description:
    - Control id -> C(compliant), C(items) (one per directive, C(key), C(effective),
      C(expected), C(source), C(compliant), C(dropin_loses)), C(latent) (lines that set a
      non-compliant value but do not apply now), C(files) (what the fix changes),
      C(changes) (data.changes entries with diffs), C(would_fail) (why the fix cannot succeed),
      C(changed) and C(failed) (state=apply).
  returned: always
  type: dict
effective:
  description: The effective configuration for the account (sshd -T, lower-case keywords).
  returned: always
  type: dict
chain:
  description: The files sshd reads, in its order.
  returned: always
  type: list
  elements: str
"""

import contextlib
import grp
import os
import pwd
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.maint.preventive.plugins.module_utils.changes import file_change
from ansible_collections.maint.preventive.plugins.module_utils.hardening import (
    compliant,
    expected_text,
    parse_sshd_t,
)
from ansible_collections.maint.preventive.plugins.module_utils.sshd_config import (
    attribute,
    candidate_tree,
    chain_files,
    normalize,
    others,
    overlaid,
    read_chain,
    resolve,
    set_first,
    set_line,
    source,
)

ENV = {"LANG": "C", "LC_ALL": "C"}
DROPIN_HEADER = (
    "# Managed by maint (hardening SSH-01 .. SSH-09). sshd reads this file before the rest of\n"
    "# its configuration and the first value of a keyword wins.\n"
)


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _listdir(directory):
    try:
        return os.listdir(directory)
    except OSError:
        return []


def _groups(user):
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return []
    names = [g.gr_name for g in grp.getgrall() if user in g.gr_mem]
    with contextlib.suppress(KeyError):
        names.append(grp.getgrgid(entry.pw_gid).gr_name)
    return sorted(set(names))


class Sshd:
    def __init__(self, module):
        self.module = module
        self.path = module.params["sshd_path"]

    def spec_arg(self, spec):
        return "user=%s,host=%s,addr=%s" % (spec["user"], spec["host"], spec["addr"])

    def effective(self, spec, config=None):
        argv = [self.path, "-T", "-C", self.spec_arg(spec)]
        if config:
            argv[1:1] = ["-f", config]
        rc, out, err = self.module.run_command(argv, environ_update=ENV)
        if rc != 0:
            return None, (err or out).strip()
        return parse_sshd_t(out), ""

    def check(self, config=None):
        argv = [self.path, "-t"] + (["-f", config] if config else [])
        rc, out, err = self.module.run_command(argv, environ_update=ENV)
        return rc == 0, (err or out).strip()


def _item(line, spec_name, effective, lines, spec, dropin):
    key = line["key"]
    compare = line.get("compare") or "eq"
    wanted = str(line["value"])
    value = effective.get(key.lower())
    winner = attribute(lines, key, spec, value)
    ok = compliant(
        compare, normalize(key, value) if value is not None else None, normalize(key, wanted)
    )
    dropin_lines = [
        e for e in lines if e["path"] == dropin and e["key"] == key.lower() and e["match"] is None
    ]
    dropin_loses = bool(
        not ok
        and dropin_lines
        and winner is not None
        and winner["path"] != dropin
        and compliant(compare, normalize(key, dropin_lines[0]["value"]), normalize(key, wanted))
    )
    latent = []
    for other in others(lines, key, winner):
        if other["value"][:1] in "+-^":
            continue
        if compliant(compare, normalize(key, other["value"]), normalize(key, wanted)):
            continue
        if other["match"] is not None and other["match"] != (winner or {}).get("match"):
            why = "applies only to connections matching 'Match %s'" % other["match"]
        else:
            why = "overridden by %s" % (source(winner) if winner else "sshd's default")
        latent.append(
            {
                "key": key,
                "effective": "%s %s" % (other["name"], other["value"]),
                "expected": expected_text(key, wanted, compare),
                "source": source(other),
                "why": why,
            }
        )
    shown = value if value is not None else "(unset)"
    described = "%s %s" % (key, shown)
    if compare == "subset" and value is not None and not ok:
        allowed = set(normalize(key, wanted).split(","))
        extra = [v for v in normalize(key, value).split(",") if v not in allowed]
        described = "%s allows %s" % (key, ", ".join(extra))
    if winner:
        phrase = "%s from %s" % (described, source(winner))
        if winner["match"] is not None:
            phrase += " (Match %s)" % winner["match"]
    else:
        phrase = "%s (sshd's default: no file sets it)" % described
    if dropin_loses:
        phrase += ", read before %s where %s %s has no effect" % (
            source(dropin_lines[0]),
            dropin_lines[0]["name"],
            dropin_lines[0]["value"],
        )
    return {
        "key": key,
        "compare": compare,
        "wanted": wanted,
        "value": value,
        "phrase": phrase,
        "effective": "%s %s" % (key.lower(), shown),
        "expected": expected_text(key.lower(), wanted, compare),
        "source": source(winner) if winner else "sshd -T -C %s (default)" % spec_name,
        "line": winner,
        "compliant": ok,
        "dropin_loses": dropin_loses,
        "dropin_source": source(dropin_lines[0]) if dropin_lines else "",
        "latent": latent,
    }


def _plan_item(item, overlay, read, listdir, main, dropin, spec):
    """The overlay that fixes one directive, or (overlay, reason) when nothing can."""
    key, wanted = item["key"], item["wanted"]
    read_new, listdir_new = overlaid(read, listdir, overlay)
    lines = read_chain(read_new, listdir_new, main)
    winner = resolve(lines, key, spec)
    current = read_new(dropin)
    tried = dict(overlay)
    tried[dropin] = set_first(current if current is not None else DROPIN_HEADER, key, wanted)
    read_try, listdir_try = overlaid(read, listdir, tried)
    new_winner = resolve(read_chain(read_try, listdir_try, main), key, spec)
    if new_winner is not None and new_winner["path"] == dropin:
        return tried, ""
    if winner is not None and winner["path"] != dropin:
        edited = dict(overlay)
        try:
            edited[winner["path"]] = set_line(
                read_new(winner["path"]), winner["line"], winner["name"], wanted
            )
        except ValueError as exc:
            return overlay, "%s: %s" % (source(winner), exc)
        return edited, ""
    if dropin not in chain_files(lines, main):
        return overlay, (
            "%s is not read by sshd (no Include in %s reaches it) and no other file sets %s"
            % (dropin, main, key)
        )
    return overlay, "%s in %s would not take effect" % (key, dropin)


def _validate(sshd, read, listdir, overlay, main, specs, tmp):
    """Validate the candidate configuration (sshd -t) and predict its effective values.
    Returns (ok, error, {spec name: effective})."""
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp, mode=0o700)
    names = {}

    def tmp_name(path):
        if path not in names:
            names[path] = os.path.join(tmp, "%03d-%s" % (len(names), os.path.basename(path)))
        return names[path]

    files = candidate_tree(read, listdir, overlay, tmp_name, main)
    for path, text in files.items():
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o600)
    ok, error = sshd.check(tmp_name(main))
    if not ok:
        return False, error, {}
    predicted = {}
    for name, spec in specs.items():
        effective, error = sshd.effective(spec, tmp_name(main))
        if effective is None:
            return False, error, {}
        predicted[name] = effective
    return True, "", predicted


def _write(path, text, dropin):
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".maint-hardening-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        if os.path.exists(path):
            st = os.stat(path)
            os.chown(tmp, st.st_uid, st.st_gid)
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        else:
            os.chown(tmp, 0, 0)
            os.chmod(tmp, 0o600 if path == dropin else 0o644)
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp and os.path.exists(tmp):
            os.remove(tmp)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            entries=dict(type="list", elements="dict", required=True),
            state=dict(type="str", choices=["audit", "apply"], default="audit"),
            scope=dict(type="list", elements="str", default=[]),
            dropin=dict(type="path", default="/etc/ssh/sshd_config.d/00-maint-hardening.conf"),
            config=dict(type="path", default="/etc/ssh/sshd_config"),
            user=dict(type="str", required=True),
            host=dict(type="str", default=""),
            addr=dict(type="str", default="127.0.0.1"),
            root_keys=dict(type="list", elements="str", default=["PermitRootLogin"]),
            sshd_path=dict(type="path", default="/usr/sbin/sshd"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    main_path, dropin = params["config"], params["dropin"]
    apply = params["state"] == "apply" and not module.check_mode
    sshd = Sshd(module)
    host = params["host"] or params["addr"]
    specs = {
        "user=%s" % params["user"]: {
            "user": params["user"],
            "host": host,
            "addr": params["addr"],
            "groups": _groups(params["user"]),
        }
    }
    root_keys = {k.lower() for k in params["root_keys"]}
    if root_keys:
        specs["user=root"] = {
            "user": "root",
            "host": host,
            "addr": params["addr"],
            "groups": _groups("root"),
        }
    effective = {}
    for name, spec in specs.items():
        found, error = sshd.effective(spec)
        if found is None:
            module.fail_json(msg="sshd -T -C %s failed: %s" % (sshd.spec_arg(spec), error))
        effective[name] = found
    user_spec = next(iter(specs))

    def spec_of(key):
        return "user=root" if key.lower() in root_keys else user_spec

    lines = read_chain(_read, _listdir, main_path)
    controls = {}
    for entry in params["entries"]:
        items = []
        for line in entry.get("lines") or []:
            name = spec_of(line["key"])
            items.append(_item(line, name, effective[name], lines, specs[name], dropin))
        controls[entry["control"]] = {
            "compliant": all(i["compliant"] for i in items),
            "items": items,
            "latent": [lat for i in items for lat in i["latent"]],
            "files": [],
            "changes": [],
            "would_fail": None,
            "changed": False,
            "failed": False,
        }

    # Plan the fixes control by control, each validated on top of the ones before it.
    tmp = tempfile.mkdtemp(prefix="maint-sshd-")
    accepted = {}
    planned = []
    try:
        for cid, control in controls.items():
            if control["compliant"] or (apply and cid not in params["scope"]):
                continue
            overlay = dict(accepted)
            reasons = []
            for item in control["items"]:
                if item["compliant"]:
                    continue
                overlay, reason = _plan_item(
                    item, overlay, _read, _listdir, main_path, dropin, specs[spec_of(item["key"])]
                )
                if reason:
                    reasons.append(reason)
            ok, error, predicted = _validate(sshd, _read, _listdir, overlay, main_path, specs, tmp)
            if not ok:
                reasons.append("the candidate configuration fails sshd -t: %s" % error)
            else:
                for item in control["items"]:
                    name = spec_of(item["key"])
                    value = predicted[name].get(item["key"].lower())
                    if not compliant(
                        item["compare"],
                        normalize(item["key"], value) if value is not None else None,
                        normalize(item["key"], item["wanted"]),
                    ):
                        reasons.append(
                            "after the change sshd would still run with %s %s"
                            % (item["key"].lower(), value)
                        )
            read_before, _ = overlaid(_read, _listdir, accepted)
            changed_paths = sorted(p for p in overlay if overlay[p] != read_before(p))
            control["files"] = changed_paths
            diffs = [file_change(cid, p, read_before(p), overlay[p]) for p in changed_paths]
            control["changes"] = [c for c in diffs if c]
            if reasons:
                control["would_fail"] = "; ".join(reasons)
                for c in control["changes"]:
                    c["would_fail"] = control["would_fail"]
                continue
            accepted = overlay
            planned.append(cid)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    changed = False
    if apply:
        for cid, control in controls.items():
            if cid in params["scope"] and control["would_fail"]:
                control["failed"] = True
        originals = {path: _read(path) for path in accepted}
        written = []
        try:
            for path in sorted(accepted):
                if accepted[path] != originals[path]:
                    _write(path, accepted[path], dropin)
                    written.append(path)
        except OSError as exc:
            module.fail_json(msg="writing %s failed: %s" % (path, exc), controls=controls)
        ok, error = sshd.check(main_path)
        if not ok:
            for path in written:
                if originals[path] is None:
                    os.remove(path)
                else:
                    _write(path, originals[path], dropin)
            module.fail_json(
                msg="the written sshd configuration fails sshd -t (restored): %s" % error,
                controls=controls,
            )
        changed = bool(written)
        for cid in planned:
            controls[cid]["changed"] = bool(controls[cid]["changes"])
    for control in controls.values():
        for item in control["items"]:
            item.pop("line", None)
    module.exit_json(
        changed=changed,
        controls=controls,
        effective=effective[user_spec],
        chain=chain_files(lines, main_path),
    )


if __name__ == "__main__":
    main()
