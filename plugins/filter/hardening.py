# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Filters of the hardening role: per-control outcomes, score, findings and backup lists."""

from __future__ import annotations

import re

from ansible_collections.maint.preventive.plugins.module_utils.changes import change
from ansible_collections.maint.preventive.plugins.module_utils.changes import (
    skip_controls as skip_controls_of,
)
from ansible_collections.maint.preventive.plugins.module_utils.findings import evidence, finder
from ansible_collections.maint.preventive.plugins.module_utils.hardening import (
    compliant,
    expected_text,
    sysctl_equal,
    sysctl_path,
)

DOCUMENTATION_NOTE = "See docs/roles/hardening.md for the control ids and finding ids."

_finding = finder("hardening")

# Controls that judge or change sshd's configuration: left out where sshd is not installed.
SSHD_CONTROLS = re.compile(r"^(SSH-|PERM-04)")


# --- discovery: which controls run and on what ------------------------------------------------


def hardening_enabled(controls, flags, sshd=True):
    """Ids of the enabled controls, in registry order. ``flags`` are the values of each control's
    ``flag`` variable, in the same order (``query('ansible.builtin.vars', *flag names)``);
    without sshd (``sshd`` false) the sshd controls are left out."""
    flags = list(flags)
    if len(flags) != len(controls):
        raise ValueError(
            "hardening_enabled: %d flags for %d controls" % (len(flags), len(controls))
        )
    return [
        c["id"]
        for c, flag in zip(controls, flags, strict=True)
        if flag and (sshd or not SSHD_CONTROLS.match(c["id"]))
    ]


def hardening_perm_items(static_results, home_results=None):
    """The permission items that exist on this host: the looped stat results of the static
    items (owner root added) and of the user homes (PERM-06, mode 0750, directories only)."""
    items = [
        dict(r["item"], owner="root")
        for r in static_results or []
        if (r.get("stat") or {}).get("exists")
    ]
    for r in home_results or []:
        if (r.get("stat") or {}).get("isdir"):
            items.append(
                {"path": r["item"], "control": "PERM-06", "mode": "0750", "compare": "mode"}
            )
    return items


def hardening_compiler_items(stat_results, mode="0750"):
    """CC-01: the compilers and assemblers that exist here (looped stat results of their
    names, not following links), as permission items on the file each name resolves to
    (``/usr/bin/as`` -> ``x86_64-linux-gnu-as``): root may run them, other users may not."""
    items, seen = [], set()
    for r in stat_results or []:
        st = r.get("stat") or {}
        if not st.get("exists"):
            continue
        path = st.get("lnk_source") if st.get("islnk") else st.get("path") or r.get("item")
        if not path or path in seen:
            continue
        seen.add(path)
        items.append(
            {
                "control": "CC-01",
                "path": path,
                "owner": "root",
                "group": "root",
                "mode": mode,
                "compare": "mode",
            }
        )
    return items


def hardening_compilers_incoming(new_packages, package_names, stat_results, names):
    """{/usr/bin/NAME: package} of the compiler names (``names``) that are not on the host now
    (``stat_results``: the CC-01 stat loop) and that a package of this run's transaction
    (``new_packages``, apt's simulation) brings (``package_names``: package -> names)."""
    present = {r.get("item") for r in stat_results or [] if (r.get("stat") or {}).get("exists")}
    out = {}
    for package in new_packages or []:
        for name in (package_names or {}).get(package) or []:
            if name in (names or []) and name not in present:
                out.setdefault("/usr/bin/" + name, package)
    return out


def hardening_sysctl_control(groups):
    """{sysctl key: control id} from ``groups`` ({control id: {key: value}}: KERN-01 the kernel
    settings, NET-01 the network ones, KERN-02 those only a full host can set)."""
    out = {}
    for cid, settings in (groups or {}).items():
        out.update(dict.fromkeys(settings or {}, cid))
    return out


def hardening_sysctl_wanted(groups, enabled=None):
    """{key: value} of the sysctl groups whose control is enabled (all with ``enabled`` None)."""
    out = {}
    for cid, settings in (groups or {}).items():
        if enabled is None or cid in enabled:
            out.update(settings or {})
    return out


def hardening_missing_packages(package_items, scope, installed):
    """Packages of the controls in ``scope`` that are not installed (``installed``: the
    package_facts packages); controls without a package on this OS family are skipped."""
    return [
        item["package"]
        for item in package_items or []
        if item["control"] in scope and item["package"] and item["package"] not in installed
    ]


def hardening_sysctl_live(probe, control_of=None, scope=None):
    """Keys whose live value differs and can be written here (hardening_sysctl_probe result);
    with ``scope``, only the keys of those controls (``control_of``: hardening_sysctl_control)."""
    writable = probe.get("writable") or []
    keys = [k for k in probe.get("noncompliant") or [] if k in writable]
    if scope is not None:
        keys = [k for k in keys if (control_of or {}).get(k) in scope]
    return keys


def hardening_sysctl_current(probe):
    """{key: live value} of the keys the run may set live: what rollback writes back."""
    current = probe.get("current") or {}
    return {k: current[k] for k in hardening_sysctl_live(probe)}


def hardening_not_writable(probe, groups, not_applicable=None):
    """{control: keys} that differ but cannot be written live on this host (the controls of
    ``not_applicable`` are left out: they do not apply here at all)."""
    keys = probe.get("not_writable") or []
    return {
        cid: [k for k in keys if k in (settings or {})]
        for cid, settings in (groups or {}).items()
        if cid not in (not_applicable or {})
    }


def hardening_not_applicable(probe, groups, host_only):
    """{control: reason} for the sysctl controls of ``host_only`` (settings only a full host,
    a VM or bare metal, can set) when none of their keys can be written here (a container's
    read-only /proc/sys): they are reported as not applicable, never judged or changed."""
    writable = probe.get("writable") or []
    return {
        cid: "only a full host (VM or bare metal) can set these kernel settings; here "
        "/proc/sys is read-only (a container)"
        for cid in host_only or []
        if (groups or {}).get(cid) and not any(k in writable for k in groups[cid])
    }


# --- the guard and the sshd settings it evaluates --------------------------------------------


def hardening_access_todo(controls, todo):
    """The controls of ``todo`` that can affect remote access: the lockout guard must pass."""
    access = {c["id"] for c in controls if c.get("access")}
    return [cid for cid in todo if cid in access]


# ``ssh -Q`` query -> the sshd -T keyword whose names it lists.
SSH_QUERIES = {"kex": "kexalgorithms", "key-sig": "hostkeyalgorithms"}


def hardening_ssh_algorithms(probe):
    """{sshd -T keyword: names} from the looped ``ssh -Q kex|key-sig`` results (a query that
    did not run or failed is left out: unknown, not empty)."""
    out = {}
    for r in (probe or {}).get("results") or []:
        if r.get("skipped") or r.get("rc") != 0 or r.get("item") not in SSH_QUERIES:
            continue
        out[SSH_QUERIES[r["item"]]] = [n.strip() for n in r.get("stdout_lines") or [] if n.strip()]
    return out


def hardening_ssh_usable(wanted, host=None, client=None):
    """The names of ``wanted`` that sshd (``host``) and the control node's ssh (``client``)
    both support (None: not known, every name counts). When the control node supports none,
    those sshd supports are kept, and the lockout guard refuses them; when sshd supports none,
    the list is kept as it is, and sshd -t refuses it."""
    names = [n for n in wanted or [] if host is None or n in host]
    both = [n for n in names if client is None or n in client]
    return both or names or list(wanted or [])


def hardening_ssh_planned(entries, todo):
    """{sshd directive: value} the apply pass writes for the controls in ``todo``."""
    return {
        line["key"]: line["value"]
        for entry in entries
        if entry["control"] in todo
        for line in entry["lines"]
    }


def hardening_backup_files(controls, todo, found=None):
    """[{path, kind}] of every file the controls in ``todo`` touch: each control's ``files``
    (``kind`` ``content``, or ``mode`` when it only changes mode and ownership) and the files
    the audit found it changes (``found``: {control: [paths]}, e.g. the sshd file whose line
    wins, a later sysctl file)."""
    out = []
    seen = set()
    for c in controls:
        if c["id"] not in todo:
            continue
        files = c.get("files") or []
        if isinstance(files, str):
            files = [files]
        kind = c.get("kind") or "content"
        for path in list(files) + list((found or {}).get(c["id"]) or []):
            if path and (path, kind) not in seen:
                seen.add((path, kind))
                out.append({"path": path, "kind": kind})
    return out


def hardening_user_homes(getent_passwd, min_uid=1000):
    """Home directories of user accounts (UID >= min_uid, not nobody) from getent passwd."""
    homes = []
    for _name, fields in sorted((getent_passwd or {}).items()):
        try:
            uid = int(fields[1])
        except (IndexError, TypeError, ValueError):
            continue
        home = fields[4] if len(fields) > 4 else ""
        if min_uid <= uid < 65534 and home.startswith("/") and home != "/" and home not in homes:
            homes.append(home)
    return homes


def hardening_ssh_drift(entries, effective):
    """sshd directives (per-control entries with ``lines``, each ``compare`` optional) whose
    effective value (sshd -T) does not meet the wanted one."""
    from ansible_collections.maint.preventive.plugins.module_utils.sshd_config import normalize

    drift = []
    for entry in entries:
        for d in entry["lines"]:
            key = d["key"].lower()
            got = effective.get(key)
            ok = compliant(
                d.get("compare") or "eq",
                normalize(key, got) if got is not None else None,
                normalize(key, d["value"]),
            )
            if not ok:
                drift.append(
                    {
                        "control": entry["control"],
                        "key": d["key"],
                        "wanted": str(d["value"]),
                        "effective": "" if got is None else str(got),
                    }
                )
    return drift


def hardening_modprobe_conf(modules, control):
    """modprobe.d content that makes the modules unloadable in the form both Lynis and CIS
    accept: ``install M /bin/true`` (a request to load M succeeds and loads nothing) and
    ``blacklist M`` (no alias loads it)."""
    lines = ["# Managed by maint (hardening %s): modules this host does not use." % control]
    for module in modules:
        lines.append("install %s /bin/true" % module)
        lines.append("blacklist %s" % module)
    return "\n".join(lines) + "\n"


# --- the effective state of each control ---------------------------------------------------------

# Controls judged on the effective state read by probes, whose file entries only carry the fix.
JUDGED_BY_PROBES = ("KERN-01", "KERN-02", "NET-01", "AUTH-03")
# The sysctl controls.
SYSCTL_CONTROLS = ("KERN-01", "KERN-02", "NET-01")
# Controls judged on their packages (and their services where systemd runs).
PACKAGE_CONTROLS = ("LOG-01", "PKG-01", "PKG-02", "AUD-01", "FIM-01", "ACCT-01", "BF-01")
# Where a package's own scripts change files when it is installed (pam-auth-update profiles).
PACKAGE_NOTE = "changed by the package's maintainer scripts (pam-auth-update) when it is installed"
# Files a package's maintainer scripts write from a debconf answer the apply sets first.
DEBCONF_NOTE = "written by the package's maintainer scripts from the debconf answer the apply sets"


def hardening_skip(skip_controls, host):
    """The controls the runner asks this host to skip: ``maint_skip_controls`` is
    {host: [control, ...]} (a plain list applies to every host)."""
    return skip_controls_of(skip_controls, host)


def hardening_sudoers_items(tree, file_mode="0440", dir_mode="0750"):
    """PERM-05 items for every file and include directory of the sudoers tree
    (maint.preventive.hardening_effective ``sudoers``): root-owned, at most 0440 and 0750."""
    return [
        {
            "control": "PERM-05",
            "path": node["path"],
            "mode": file_mode if node["kind"] == "file" else dir_mode,
            "owner": "root",
            "group": "root",
            "compare": "mode",
        }
        for node in tree or []
    ]


VENDOR_SYSCTL_DIRS = (
    "/run/sysctl.d/",
    "/usr/local/lib/sysctl.d/",
    "/usr/lib/sysctl.d/",
    "/lib/sysctl.d/",
)


def hardening_sysctl_entries(wanted, control_of, persisted, role_file, enabled):
    """hardening_files entries that make each key persist its wanted value at boot, for the
    keys whose persisted value is not compliant: the role's sysctl.d file when it would win,
    else the line of the later file that wins (sysctl --system: the last assignment wins). A
    vendor file (/usr/lib/sysctl.d...) is never edited: a file of the same name in
    /etc/sysctl.d, a copy of it with the line changed, overrides it."""
    role, others = {}, {}
    for key, value in (wanted or {}).items():
        cid = (control_of or {}).get(key)
        if cid not in (enabled or []):
            continue
        found = (persisted or {}).get(key)
        if found and sysctl_equal(found["value"], value):
            continue
        where = found["source"].rsplit(":", 1)[0] if found else role_file
        target = role if where == role_file or _sorts_before(where, role_file) else others
        target.setdefault((cid, where), []).append({"key": key, "value": value})
    entries = []
    for (cid, _path), lines in sorted(role.items(), key=lambda kv: kv[0][0]):
        entries.append(
            {
                "control": cid,
                "kind": "lines",
                "path": role_file,
                "sep": " = ",
                "lines": lines,
                "owner": "root",
                "group": "root",
                "mode": "0644",
            }
        )
    for (cid, path), lines in sorted(others.items()):
        entry = {"control": cid, "kind": "lines", "path": path, "sep": " = ", "lines": lines}
        if path.startswith(VENDOR_SYSCTL_DIRS):
            entry.update(
                path="/etc/sysctl.d/" + path.rsplit("/", 1)[-1],
                base=path,
                owner="root",
                group="root",
                mode="0644",
            )
        else:
            entry["create"] = False
        entries.append(entry)
    return entries


def _sorts_before(path, role_file):
    """Whether a sysctl file is applied before the role's file (so the role's file wins)."""
    if path == "/etc/sysctl.conf":
        return False
    return path.rsplit("/", 1)[-1] < role_file.rsplit("/", 1)[-1]


def hardening_pwquality_lines(settings, wanted, conf="/etc/security/pwquality.conf"):
    """The pwquality.conf lines to set: the wanted settings ({name: {value, compare}}) that are
    not met in effect and that pwquality.conf decides (not overridden by pwquality.conf.d or
    the pam_pwquality arguments)."""
    lines = []
    for name, want in (wanted or {}).items():
        found = (settings or {}).get(name)
        if found and compliant(want.get("compare"), found["value"], want["value"]):
            continue
        if found and not found["source"].startswith(conf + ":"):
            continue
        lines.append({"key": name, "value": want["value"], "compare": want.get("compare")})
    return lines


def _new_assessment():
    return {
        "noncompliant": False,
        "items": [],
        "changes": [],
        "latent": [],
        "files": [],
        "would_fail": [],
        "changed": False,
        "failed": False,
        "errors": [],
    }


def _package_items(cid, ctx):
    """The package of a control: an evidence item when it is missing, and its install."""
    out = []
    installed = ctx.get("installed") or {}
    for item in ctx.get("packages") or []:
        if item["control"] != cid or not item.get("package"):
            continue
        name = item["package"]
        present = name in installed
        out.append(
            {
                "key": name,
                "phrase": "%s is %s" % (name, "installed" if present else "not installed"),
                "effective": "%s installed" % name if present else "%s not installed" % name,
                "expected": "%s installed" % name,
                "source": "dpkg-query -W %s" % name,
                "compliant": present,
                "package": name,
            }
        )
    return out


def _install_change(cid, name, ctx):
    plan = ((ctx.get("apt") or {}).get("install") or {}).get(name) or {}
    return change(
        cid,
        "package",
        name,
        "upgrade" if plan.get("action") == "upgrade" else "install",
        before=plan.get("current"),
        after=plan.get("version"),
        pulls=plan.get("pulls") or [],
        would_fail=plan.get("would_fail"),
    )


def _pam_item(cid, ctx):
    pam = (ctx.get("pam") or {}).get(cid)
    if not pam:
        return None
    where = "the %s stack of %s" % (pam["type"], pam["service"])
    found = pam["found"] and bool(pam.get("module_file"))
    if pam["found"]:
        effective = "%s %s in %s" % (pam["type"], pam["module"], where)
        if not pam.get("module_file"):
            effective += ", but the module file is missing"
    else:
        effective = "%s not in %s" % (pam["module"], where)
    return {
        "key": pam["module"],
        "phrase": "%s (%s)" % (effective, pam["source"] or "/etc/pam.d/%s" % pam["service"]),
        "effective": effective,
        "expected": "%s in %s" % (pam["module"], where),
        "source": pam["source"] or "/etc/pam.d/%s" % pam["service"],
        "compliant": found,
        "pam": pam,
    }


def _pam_control(cid, ctx, a):
    """AUTH-03, AUTH-04: judged on the effective PAM stack; fixed by installing the package
    (its pam-auth-update profile adds the module)."""
    pam_item = _pam_item(cid, ctx)
    packages = _package_items(cid, ctx)
    if pam_item is None:
        a["items"].extend(packages)
        return
    a["items"].append(pam_item)
    if cid == "AUTH-03":
        for name, want in (ctx.get("pwquality_wanted") or {}).items():
            found = (ctx.get("pwquality") or {}).get(name)
            ok = bool(found) and compliant(want.get("compare"), found["value"], want["value"])
            a["items"].append(
                {
                    "key": name,
                    "phrase": "%s = %s from %s" % (name, found["value"], found["source"])
                    if found
                    else "%s not set (pwquality's built-in default)" % name,
                    "effective": "%s = %s" % (name, found["value"])
                    if found
                    else "%s not set (pwquality's default)" % name,
                    "expected": expected_text(name + " =", want["value"], want.get("compare")),
                    "source": found["source"] if found else ctx.get("pwquality_conf", ""),
                    "compliant": ok,
                }
            )
            if (
                found
                and not ok
                and not found["source"].startswith(
                    ctx.get("pwquality_conf", "/etc/security/pwquality.conf") + ":"
                )
            ):
                a["would_fail"].append(
                    "%s = %s is set by %s, which overrides %s"
                    % (name, found["value"], found["source"], ctx.get("pwquality_conf"))
                )
    if pam_item["compliant"]:
        return
    missing = [p["package"] for p in packages if not p["compliant"]]
    if missing:
        for name in missing:
            a["changes"].append(_install_change(cid, name, ctx))
        for path in (ctx.get("package_files") or {}).get(cid) or []:
            a["changes"].append(change(cid, "file", path, "modify", note=PACKAGE_NOTE))
            a["files"].append(path)
    else:
        a["would_fail"].append(
            "%s is installed but %s; enable its profile with pam-auth-update"
            % (", ".join(p["package"] for p in packages) or pam_item["key"], pam_item["effective"])
        )


def _service_item(result):
    """Evidence of one service task result (started and enabled at boot; changed = it was not)."""
    name = result["item"]["service"]
    running = not result.get("changed") or result.get("pass") == "apply"
    return {
        "key": name,
        "phrase": "%s is not running or not enabled at boot" % name,
        "effective": "%s running and enabled" % name
        if running
        else "%s not running or not enabled" % name,
        "expected": "%s running and enabled at boot" % name,
        "source": "systemctl status %s" % name,
        "compliant": running,
    }


def _aide_items(cid, ctx, a):
    """FIM-01: the AIDE database exists (initialised by aideinit, a scan of the file system)."""
    aide = ctx.get("aide") or {}
    if not aide.get("db"):
        return
    exists = bool(aide.get("exists")) or bool(aide.get("initialised"))
    a["items"].append(
        {
            "key": aide["db"],
            "phrase": "the AIDE database %s %s"
            % (aide["db"], "exists" if exists else "is missing (never initialised)"),
            "effective": "%s %s" % (aide["db"], "exists" if exists else "missing"),
            "expected": "%s initialised" % aide["db"],
            "source": aide["db"],
            "compliant": exists if ctx.get("pass") != "apply" else True,
        }
    )
    if not aide.get("exists"):
        a["changes"].append(
            change(
                cid,
                "file",
                aide["db"],
                "create",
                note="initialised by aide --init after the install: a full scan of the file system",
            )
        )
        if aide["db"] not in a["files"]:
            a["files"].append(aide["db"])
        if aide.get("initialised"):
            a["changed"] = True


def _plain_package_control(cid, ctx, a):
    """The package controls (LOG-01, PKG-01..02, AUD-01, FIM-01, ACCT-01, BF-01): their packages
    are installed (LOG-01: any syslog daemon counts) and, where systemd manages services, their
    services run and start at boot."""
    items = _package_items(cid, ctx)
    if cid == "LOG-01":
        installed = ctx.get("installed") or {}
        daemons = [d for d in ctx.get("syslog_packages") or [] if d in installed]
        if daemons:
            items = [
                dict(i, compliant=True, effective="%s installed" % ", ".join(daemons))
                for i in items
            ]
    a["items"].extend(items)
    for item in items:
        if not item["compliant"]:
            a["changes"].append(_install_change(cid, item["package"], ctx))
    if any(not item["compliant"] for item in items):
        for path in (ctx.get("package_files") or {}).get(cid) or []:
            a["changes"].append(change(cid, "file", path, "create", note=DEBCONF_NOTE))
            if path not in a["files"]:
                a["files"].append(path)
    if cid == "FIM-01":
        _aide_items(cid, ctx, a)
    for result in ctx.get("services") or []:
        if result.get("skipped") or (result.get("item") or {}).get("control") != cid:
            continue
        item = _service_item(dict(result, **{"pass": ctx.get("pass")}))
        a["items"].append(item)
        if result.get("changed"):
            a["changes"].append(
                change(
                    cid,
                    "service",
                    item["key"],
                    "set",
                    before="stopped or disabled",
                    after="running, enabled at boot",
                )
            )
            a["changed"] = True


def _incoming_compilers(cid, ctx, a):
    """CC-01: the compilers the packages of this run install (needrestart pulls binutils) are
    restricted right after the install, on the file each name resolves to."""
    incoming = ctx.get("compilers_incoming") or {}
    for path in sorted(incoming):
        package = incoming[path]
        a["items"].append(
            {
                "key": path,
                "phrase": "%s comes with %s, which this run installs, for every user"
                % (path, package),
                "effective": "%s installed by this run (%s), mode from the package"
                % (path, package),
                "expected": "%s usable by root only (mode %s)" % (path, ctx.get("compilers_mode")),
                "source": "the package plan (%s)" % package,
                "compliant": ctx.get("pass") == "apply",
            }
        )
        a["changes"].append(
            change(
                cid,
                "mode",
                path,
                "set",
                after=ctx.get("compilers_mode"),
                note="installed by this run (%s): restricted right after the install, on the file "
                "the name resolves to" % package,
            )
        )
    if ctx.get("pass") == "apply" and incoming:
        a["changed"] = a["changed"] or bool(ctx.get("compilers_restricted"))


def _legacy_control(cid, ctx, a):
    """SVC-01: the legacy service packages are not installed; removing them takes what the
    removal simulation says with them."""
    legacy = ctx.get("legacy") or []
    installed = ctx.get("installed") or {}
    for name in legacy:
        versions = installed.get(name) or [{}]
        a["items"].append(
            {
                "key": name,
                "phrase": "%s %s is installed" % (name, versions[0].get("version", "")),
                "effective": "%s %s installed" % (name, versions[0].get("version", "")),
                "expected": "%s not installed" % name,
                "source": "dpkg-query -W %s" % name,
                "compliant": False,
            }
        )
    if not legacy:
        return
    removal = ctx.get("removal") or {}
    removed = removal.get("packages") or []
    by_name = {p["name"]: p for p in removed}
    for name in legacy:
        own = by_name.get(name) or {"current": (installed.get(name) or [{}])[0].get("version")}
        a["changes"].append(
            change(
                cid,
                "package",
                name,
                "remove",
                before=own.get("current"),
                pulls=[
                    "%s %s" % (p["name"], p.get("current") or "")
                    for p in removed
                    if p["name"] not in legacy
                ],
                would_fail=removal.get("would_fail"),
            )
        )


def _sysctl_control(cid, ctx, a):
    probe = ctx.get("sysctl_live") or {}
    persisted = ctx.get("sysctl_persisted") or {}
    wanted = ctx.get("sysctl_wanted") or {}
    set_live = ctx.get("sysctl_set")
    for key, owner in (ctx.get("sysctl_control") or {}).items():
        if owner != cid or key not in wanted:
            continue
        value = wanted[key]
        live = (probe.get("current") or {}).get(key)
        if live is not None:
            writable = key in (probe.get("writable") or [])
            ok = sysctl_equal(live, value)
            a["items"].append(
                {
                    "key": key,
                    "phrase": "%s = %s in the running kernel" % (key, live),
                    "effective": "%s = %s (running kernel)" % (key, live),
                    "expected": "%s = %s" % (key, value),
                    "source": sysctl_path(key),
                    "compliant": ok or not writable,
                }
            )
            todo = (not ok and writable) if set_live is None else key in set_live
            if todo:
                a["changes"].append(change(cid, "sysctl", key, "set", before=live, after=value))
        found = persisted.get(key)
        a["items"].append(
            {
                "key": key,
                "phrase": "%s = %s at boot from %s" % (key, found["value"], found["source"])
                if found
                else "%s is not persisted (no sysctl.d file or /etc/sysctl.conf sets it)" % key,
                "effective": "%s = %s at boot" % (key, found["value"])
                if found
                else "%s not persisted" % key,
                "expected": "%s = %s at boot" % (key, value),
                "source": found["source"]
                if found
                else "no sysctl.d file or /etc/sysctl.conf sets it",
                "compliant": bool(found) and sysctl_equal(found["value"], value),
            }
        )
        for old in (found or {}).get("overridden") or []:
            if not sysctl_equal(old["value"], value):
                a["latent"].append(
                    {
                        "key": key,
                        "effective": "%s = %s" % (key, old["value"]),
                        "expected": "%s = %s" % (key, value),
                        "source": old["source"],
                        "why": "overridden by %s" % found["source"],
                    }
                )


def hardening_assess(controls, enabled, ctx):
    """Per enabled control, what the host really runs with and what fixing it changes:
    {control: {noncompliant, items (evidence: key, effective, expected, source, compliant),
    changes (data.changes entries), latent (non-compliant settings that do not apply now),
    files (what the fix writes besides the registry's files), would_fail (why the fix cannot
    succeed, joined), changed, failed}}.

    ``ctx`` carries one pass's probes and module results: ``pass`` (audit or apply), ``files``
    (maint.preventive.hardening_files results), ``sshd`` (maint.preventive.hardening_sshd
    ``controls``), ``packages`` (control, package), ``installed`` (package_facts), ``apt``
    (maint.preventive.apt_transaction), ``pam``, ``pwquality``, ``pwquality_wanted``,
    ``pwquality_conf`` (maint.preventive.hardening_effective), ``sysctl_live``
    (maint.preventive.hardening_sysctl_probe), ``sysctl_persisted``, ``sysctl_wanted``,
    ``sysctl_control``, ``sysctl_set`` (apply: the keys set live), ``legacy`` and
    ``removal`` (SVC-01), ``services`` (the looped service task: item control, service),
    ``syslog_packages``, ``aide`` (FIM-01: db, exists, initialised), ``compilers_incoming``,
    ``compilers_mode`` and ``compilers_restricted`` (CC-01), ``not_applicable``
    ({control: reason}: judged as nothing here) and ``package_files`` ({control: files a
    package's scripts change}).
    """
    by_control = {}
    for result in ctx.get("files") or []:
        if result.get("skipped"):
            continue
        by_control.setdefault(result.get("control"), []).append(result)
    sshd = ctx.get("sshd") or {}
    out = {}
    for c in controls:
        cid = c["id"]
        if cid not in (enabled or []):
            continue
        a = _new_assessment()
        for result in by_control.get(cid, []):
            if cid not in JUDGED_BY_PROBES:
                a["items"].extend(result.get("items") or [])
            if result.get("changed") or result.get("failed"):
                a["changes"].extend(result.get("changes") or [])
                if result["path"] not in a["files"]:
                    a["files"].append(result["path"])
            a["changed"] = a["changed"] or bool(result.get("changed"))
            if result.get("failed"):
                a["failed"] = True
                a["errors"].append(result.get("msg") or "")
        if cid in sshd:
            s = sshd[cid]
            a["items"].extend(s.get("items") or [])
            a["latent"].extend(s.get("latent") or [])
            a["changes"].extend(s.get("changes") or [])
            a["files"].extend(p for p in s.get("files") or [] if p not in a["files"])
            if s.get("would_fail"):
                a["would_fail"].append(s["would_fail"])
            a["changed"] = a["changed"] or bool(s.get("changed"))
            a["failed"] = a["failed"] or bool(s.get("failed"))
        if cid in (ctx.get("not_applicable") or {}):
            pass
        elif cid in SYSCTL_CONTROLS:
            _sysctl_control(cid, ctx, a)
            a["changed"] = a["changed"] or any(ch["kind"] == "sysctl" for ch in a["changes"])
        elif cid in ("AUTH-03", "AUTH-04"):
            _pam_control(cid, ctx, a)
        elif cid in PACKAGE_CONTROLS:
            _plain_package_control(cid, ctx, a)
        elif cid == "SVC-01":
            _legacy_control(cid, ctx, a)
        elif cid == "CC-01":
            _incoming_compilers(cid, ctx, a)
        for ch in a["changes"]:
            if ch.get("would_fail"):
                a["would_fail"].append(ch["would_fail"])
        a["would_fail"] = "; ".join(dict.fromkeys(w for w in a["would_fail"] if w)) or None
        if a["would_fail"]:
            for ch in a["changes"]:
                ch["would_fail"] = ch.get("would_fail") or a["would_fail"]
        a["noncompliant"] = any(not item.get("compliant", True) for item in a["items"])
        if ctx.get("pass") == "apply" and any(ch["kind"] == "package" for ch in a["changes"]):
            a["changed"] = True
        for item in a["items"]:
            item.pop("pam", None)
            item.pop("package", None)
        out[cid] = a
    return out


def hardening_plan(assessment, enabled, skip=()):
    """The enabled controls that are not compliant and not skipped, in registry order: what a
    plan shows (including the changes that would fail)."""
    return [
        c
        for c in enabled
        if (assessment.get(c) or {}).get("noncompliant") and c not in (skip or [])
    ]


def hardening_todo(assessment, enabled, skip=()):
    """What the apply pass changes: the plan without the changes that would fail."""
    return [c for c in hardening_plan(assessment, enabled, skip) if not assessment[c]["would_fail"]]


def hardening_found_files(assessment, todo):
    """{control: [files]} the audit found the controls in ``todo`` change (for the backup)."""
    return {c: list((assessment.get(c) or {}).get("files") or []) for c in todo}


# --- the result: control table, score, status, findings, changes ---------------------------------


def hardening_controls(
    controls,
    enabled,
    audit,
    applied=None,
    check_mode=False,
    not_writable=None,
    skip=(),
    skip_reason="skipped on this host by the runner (maint_skip_controls)",
    not_applicable=None,
):
    """The control table of the result: id, title, flag, severity, enabled, status, and for a
    control that is not compliant its ``evidence`` (effective, expected, source of each failing
    item), ``would_fail`` (why its fix cannot succeed) and, when skipped, ``reason``.

    status: ``compliant`` (compliant in effect, nothing to change), ``fixed`` (changed in this
    run), ``noncompliant`` (would change: check mode or not applied), ``skipped`` (not
    compliant, left alone on purpose: maint_skip_controls, or an apply whose fix was predicted
    to fail), ``not_writable`` (persisted but the live kernel value cannot be set here),
    ``not_applicable`` (``not_applicable``: {control: reason}, e.g. the kernel settings only
    a full host can set, on a container), ``failed``, ``disabled``.
    """
    applied = applied or {}
    not_writable = not_writable or {}
    table = []
    for c in controls:
        cid = c["id"]
        row = {
            "id": cid,
            "title": c["title"],
            "flag": c["flag"],
            "severity": c["severity"],
            "enabled": cid in enabled,
        }
        if cid not in enabled:
            row["status"] = "disabled"
            table.append(row)
            continue
        found = audit.get(cid) or {}
        after = applied.get(cid) or {}
        if cid in (not_applicable or {}):
            row["status"] = "not_applicable"
            row["reason"] = not_applicable[cid]
            table.append(row)
            continue
        if after.get("failed"):
            row["status"] = "failed"
            row["error"] = "; ".join(e for e in after.get("errors") or [] if e) or None
        elif not found.get("noncompliant"):
            row["status"] = "compliant"
        elif cid in (skip or []):
            row["status"] = "skipped"
            row["reason"] = skip_reason
        elif found.get("would_fail") and not check_mode:
            row["status"] = "skipped"
            row["reason"] = "not attempted: the change would fail: %s" % found["would_fail"]
        elif check_mode or not (after.get("changed") or after.get("changes")):
            row["status"] = "noncompliant"
        else:
            row["status"] = "fixed"
        if row["status"] in ("compliant", "fixed") and not_writable.get(cid):
            row["status"] = "not_writable"
            row["not_writable"] = not_writable[cid]
        if found.get("noncompliant"):
            row["evidence"] = [
                {k: i.get(k, "") for k in ("effective", "expected", "source")}
                for i in found.get("items") or []
                if not i.get("compliant", True)
            ]
            row["would_fail"] = found.get("would_fail")
        table.append(row)
    return table


def hardening_score(table, before=False):
    """compliant controls / enabled controls (``before``: as found, else after the run)."""
    enabled = [r for r in table if r["enabled"] and r["status"] != "not_applicable"]
    good = ("compliant",) if before else ("compliant", "fixed")
    compliant_rows = [r for r in enabled if r["status"] in good]
    percent = round(100.0 * len(compliant_rows) / len(enabled), 1) if enabled else 100.0
    return {"compliant": len(compliant_rows), "enabled": len(enabled), "percent": percent}


def hardening_status(table, todo, refused=False, drift=None, after_problems=None):
    """The result's status: ``failed`` on a refusal, sshd drift, access problems after the run
    or a failed control; else ``changed`` when controls were (or would be) applied; else ``ok``."""
    if refused or drift or after_problems or any(r["status"] == "failed" for r in table):
        return "failed"
    return "changed" if todo else "ok"


def _phrase(item):
    if item.get("phrase"):
        return item["phrase"]
    return "%s from %s" % (item.get("effective", ""), item.get("source", ""))


def _evidence_of(items):
    failing = [i for i in items if not i.get("compliant", True)]
    if not failing:
        return None
    return evidence(
        "; ".join(i.get("effective", "") for i in failing),
        "; ".join(i.get("expected", "") for i in failing),
        "; ".join(dict.fromkeys(i.get("source", "") for i in failing)),
    )


def hardening_findings(
    controls,
    table,
    assessment=None,
    not_writable_keys=None,
    lockout_problems=None,
    lockout_user="",
    ssh_drift=None,
    dropin="",
):
    """Result-contract findings: one per control that is not compliant (or failed), stating the
    problem with the effective value and the file and line that set it, with ``evidence``;
    one latent-risk finding (low) per control with settings that are overridden now but take
    effect if what overrides them goes; the sysctl keys a container cannot write; the lockout
    refusal; and sshd values that did not take effect after the run."""
    by_id = {c["id"]: c for c in controls}
    assessment = assessment or {}
    findings = []
    if lockout_problems:
        findings.append(
            _finding(
                "lockout_risk",
                "critical",
                "Access-related hardening refused for account %s: %s"
                % (lockout_user or "?", "; ".join(lockout_problems)),
                "Give the maintenance account an authorized key and sudo (or set "
                "hardening_lockout_user to the account operators use), then run again.",
            )
        )
    for row in table:
        control = by_id[row["id"]]
        found = assessment.get(row["id"]) or {}
        if row["status"] in ("noncompliant", "failed", "skipped"):
            failing = [i for i in found.get("items") or [] if not i.get("compliant", True)]
            problem = control.get("problem") or control["title"]
            shown = "; ".join(_phrase(i) for i in failing[:4])
            if len(failing) > 4:
                shown += "; and %d more" % (len(failing) - 4)
            message = "%s: %s" % (problem, shown) if shown else problem
            if row["status"] == "failed":
                message += " (the change failed: %s)" % (row.get("error") or "see the run")
            elif found.get("would_fail"):
                message += " (the fix cannot be applied here: %s)" % found["would_fail"]
            findings.append(
                _finding(
                    control["key"],
                    control["severity"],
                    message,
                    control["recommendation"],
                    evidence=_evidence_of(failing) or evidence(problem, control["title"], ""),
                )
            )
        latent = found.get("latent") or []
        if latent and row["status"] != "disabled":
            findings.append(
                _finding(
                    control["key"] + "_latent",
                    "low",
                    "%s: settings that do not apply now but take effect if what overrides "
                    "them goes: %s"
                    % (
                        row["id"],
                        "; ".join(
                            "%s at %s (%s)" % (i["effective"], i["source"], i["why"])
                            for i in latent
                        ),
                    ),
                    "Remove or correct these lines so a later change cannot bring them back.",
                    evidence=evidence(
                        "; ".join(i["effective"] for i in latent),
                        "; ".join(dict.fromkeys(i["expected"] for i in latent)),
                        "; ".join(i["source"] for i in latent),
                    ),
                )
            )
    if ssh_drift:
        findings.append(
            _finding(
                "sshd_not_effective",
                "high",
                "sshd does not use the hardened values for: %s"
                % ", ".join(
                    "%s %s (%s)" % (d["key"], d["effective"] or "(unset)", d["control"])
                    for d in ssh_drift
                ),
                "Look for a Match block or an Include read before %s, "
                "fix it, then reload sshd." % (dropin or "the hardening drop-in"),
                evidence=evidence(
                    "; ".join("%s %s" % (d["key"].lower(), d["effective"]) for d in ssh_drift),
                    "; ".join("%s %s" % (d["key"].lower(), d["wanted"]) for d in ssh_drift),
                    "sshd -T",
                ),
            )
        )
    if not_writable_keys:
        findings.append(
            _finding(
                "sysctl_not_writable",
                "low",
                "%d kernel setting(s) differ and cannot be set live on this host "
                "(read-only /proc/sys, typical of containers); persisted for the next boot: %s"
                % (len(not_writable_keys), ", ".join(sorted(not_writable_keys))),
                "Set them on the container host or VM kernel; inside a container "
                "they are the host's to decide.",
            )
        )
    return findings


def hardening_changes(assessment, controls, reload_service="ssh"):
    """data.changes: the changes of ``controls`` (the plan in check mode, what was applied
    after an apply) in registry order, and the sshd reload when an sshd file changes."""
    out = []
    for cid in controls:
        out.extend((assessment.get(cid) or {}).get("changes") or [])
    ssh = [
        ch
        for ch in out
        if ch["control"].startswith("SSH-") and ch["kind"] == "file" and not ch.get("would_fail")
    ]
    if ssh:
        out.append(
            change(
                "HARD-05",
                "service",
                reload_service,
                "reload",
                note="after sshd -t validates the configuration",
            )
        )
    return out


def hardening_applied(assessment, todo):
    """The controls of ``todo`` the apply pass changed."""
    return [
        c
        for c in todo
        if (assessment.get(c) or {}).get("changed") or (assessment.get(c) or {}).get("changes")
    ]


WINDOWS_CONTROLS = {
    "WIN-01": ("win_smb1", "high", "SMBv1 server protocol is enabled", "Turn SMBv1 off."),
    "WIN-02": (
        "win_firewall",
        "high",
        "the firewall is off for a profile",
        "Turn the firewall on.",
    ),
    "WIN-03": (
        "win_rdp_nla",
        "medium",
        "RDP does not require NLA",
        "Require Network Level Authentication.",
    ),
    "WIN-04": ("win_guest", "medium", "the Guest account is enabled", "Disable the Guest account."),
}


def hardening_windows_findings(changed, check_mode=False):
    """Findings of the Windows subset: in check mode each control that would change is not
    compliant; after a real run nothing is reported (the controls were fixed)."""
    if not check_mode:
        return []
    findings = []
    for cid in changed:
        key, severity, message, recommendation = WINDOWS_CONTROLS[cid]
        findings.append(
            _finding(key, severity, "%s not compliant: %s" % (cid, message), recommendation)
        )
    return findings


class FilterModule:
    def filters(self):
        return {
            "hardening_enabled": hardening_enabled,
            "hardening_skip": hardening_skip,
            "hardening_perm_items": hardening_perm_items,
            "hardening_compiler_items": hardening_compiler_items,
            "hardening_compilers_incoming": hardening_compilers_incoming,
            "hardening_sudoers_items": hardening_sudoers_items,
            "hardening_sysctl_control": hardening_sysctl_control,
            "hardening_sysctl_entries": hardening_sysctl_entries,
            "hardening_pwquality_lines": hardening_pwquality_lines,
            "hardening_missing_packages": hardening_missing_packages,
            "hardening_sysctl_live": hardening_sysctl_live,
            "hardening_sysctl_current": hardening_sysctl_current,
            "hardening_not_writable": hardening_not_writable,
            "hardening_not_applicable": hardening_not_applicable,
            "hardening_sysctl_wanted": hardening_sysctl_wanted,
            "hardening_assess": hardening_assess,
            "hardening_plan": hardening_plan,
            "hardening_todo": hardening_todo,
            "hardening_found_files": hardening_found_files,
            "hardening_applied": hardening_applied,
            "hardening_changes": hardening_changes,
            "hardening_access_todo": hardening_access_todo,
            "hardening_ssh_planned": hardening_ssh_planned,
            "hardening_ssh_algorithms": hardening_ssh_algorithms,
            "hardening_ssh_usable": hardening_ssh_usable,
            "hardening_controls": hardening_controls,
            "hardening_score": hardening_score,
            "hardening_status": hardening_status,
            "hardening_findings": hardening_findings,
            "hardening_backup_files": hardening_backup_files,
            "hardening_user_homes": hardening_user_homes,
            "hardening_ssh_drift": hardening_ssh_drift,
            "hardening_modprobe_conf": hardening_modprobe_conf,
            "hardening_windows_findings": hardening_windows_findings,
        }
