# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Filters of the patching role: result-contract findings, the dnf and Windows choices, and
the patch baseline (the decision itself lives in module_utils/patch_baseline.py)."""

from __future__ import annotations

import fnmatch
from datetime import datetime, timezone

from ansible.errors import AnsibleFilterError
from ansible_collections.maint.preventive.plugins.module_utils import patch_baseline as pb
from ansible_collections.maint.preventive.plugins.module_utils.apt_sim import update_changes
from ansible_collections.maint.preventive.plugins.module_utils.findings import finder

DOCUMENTATION_NOTE = "See docs/role-contract.md for the finding ids."

_finding = finder("patching")


def _name(package):
    return str(package.get("name") or package.get("title") or package.get("id") or "?")


def patching_findings(
    pending,
    selected,
    skipped=None,
    applied=False,
    check_mode=False,
    reboot_required=False,
    reboot_allowed=False,
    failed_services=None,
    failed_commands=None,
    missing_debs=None,
    baseline=None,
    reboot_reason="",
):
    """Findings for one host's patching run.

    ``pending`` is every pending update, ``selected`` the transaction chosen to apply,
    ``applied`` whether updates were really installed in this run, ``baseline`` the patch
    baseline that decided (its expired holds are findings), ``reboot_reason`` why a required
    reboot was not made.
    """
    findings = []
    skipped = skipped or {}
    if check_mode or not applied:
        security = [_name(p) for p in selected if p.get("security")]
        other = [_name(p) for p in selected if not p.get("security")]
        if security:
            findings.append(
                _finding(
                    "security_updates_pending",
                    "high",
                    "%d security update(s) pending: %s"
                    % (len(security), ", ".join(sorted(security))),
                    "Approve and apply them in the next maintenance window.",
                )
            )
        if other:
            findings.append(
                _finding(
                    "updates_pending",
                    "low",
                    "%d update(s) pending: %s" % (len(other), ", ".join(sorted(other))),
                    "Apply them in the next maintenance window.",
                )
            )
    held = sorted(name for name, why in skipped.items() if why == "held")
    held += sorted(
        "%s (%s)" % (_name(p), p["reason"])
        for p in pending or []
        if p.get("decision") == pb.OUT and str(p.get("reason") or "").startswith("held ")
    )
    if held:
        findings.append(
            _finding(
                "held_packages",
                "info",
                "Updates held back on purpose: %s" % ", ".join(held),
                "Review the holds; release them once the reason is gone.",
            )
        )
    for hold in _expired(baseline):
        findings.append(
            _finding(
                "hold_expired",
                "medium",
                "The hold of %s %s expired on %s (%s): it no longer holds the update back"
                % (
                    hold["package"],
                    hold["version"] or "(any version)",
                    hold["until"],
                    hold["reason"],
                ),
                "Remove the hold from patch baseline %s in maint.yml, or extend its date "
                "if the reason still stands." % baseline["name"],
            )
        )
    if reboot_required and not reboot_allowed:
        findings.append(
            _finding(
                "reboot_pending",
                "medium",
                "A reboot is required to finish installing updates"
                + (" (%s)" % reboot_reason if reboot_reason else ""),
                "Schedule a reboot inside the next window.",
            )
        )
    for service in failed_services or []:
        findings.append(
            _finding(
                "service_down",
                "high",
                "Service %s is not running after patching" % service,
                "Roll back the update or restart the service, then investigate.",
            )
        )
    for command in failed_commands or []:
        findings.append(
            _finding(
                "post_check_failed",
                "high",
                "Post-patch check failed: %s" % command,
                "Roll back the update and investigate before patching again.",
            )
        )
    if missing_debs:
        findings.append(
            _finding(
                "rollback_incomplete",
                "medium",
                "No pre-change package kept for: %s" % ", ".join(sorted(missing_debs)),
                "Install dpkg-repack so every update can be rolled back.",
            )
        )
    return findings


def _expired(baseline):
    try:
        return pb.expired_holds(baseline or None)
    except pb.BaselineError as exc:
        raise AnsibleFilterError("patching: %s" % exc) from exc


def _flag(value):
    """A boolean from a templated value ("False" is false)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def _now():
    return datetime.now(timezone.utc).strftime(pb.STAMP)


def patching_baseline(baselines, window=None, groups=None, host_groups=None, as_of="", now=""):
    """The host's patch baseline from the runner's variables (``maint_patch_baselines``,
    ``maint_patch_baseline``, ``maint_patch_baseline_groups``, ``group_names``), decided as of
    ``maint_patch_as_of`` (the controller's clock, ``now``, only when the runner gave none).
    ``{}`` when no baseline applies: the role keeps its own variables."""
    try:
        chosen = pb.resolve(baselines, window, groups, host_groups, as_of or now or _now())
    except pb.BaselineError as exc:
        raise AnsibleFilterError("patching: %s" % exc) from exc
    return chosen or {}


def patching_baseline_summary(baseline):
    """``data.baseline``: name, source (window or group), group and as_of; None without one."""
    return pb.summary(baseline or None)


def patching_reboot_plan(
    baseline,
    legacy_reboot,
    required=False,
    installed=False,
    check_mode=False,
    deadline="",
    now="",
    timeout=900,
):
    """Whether to reboot now and why (see module_utils/patch_baseline.reboot_plan)."""
    try:
        return pb.reboot_plan(
            baseline or None,
            _flag(legacy_reboot),
            _flag(required),
            _flag(installed),
            _flag(check_mode),
            deadline or "",
            now or _now(),
            int(timeout),
        )
    except pb.BaselineError as exc:
        raise AnsibleFilterError("patching: %s" % exc) from exc


def patching_windows_policy(
    baseline, categories=None, reject=None, legacy_reboot=False, deadline="", now="", timeout=900
):
    """win_updates category_names, reject_list, accept_list and reboot for the baseline (or
    the role's own variables without one); no reboot when the window has no time left."""
    try:
        return pb.windows_policy(
            baseline or None,
            categories,
            reject,
            _flag(legacy_reboot),
            deadline or "",
            now or _now(),
            int(timeout),
        )
    except pb.BaselineError as exc:
        raise AnsibleFilterError("patching: %s" % exc) from exc


def patching_pins(transaction):
    """``name=version`` pins for every package the transaction installs or upgrades."""
    return [
        "%s=%s" % (p["name"], p["candidate"])
        for p in transaction or []
        if p.get("action") != "remove" and p.get("candidate")
    ]


def patching_down_services(services, service_facts):
    """Services from ``services`` that service_facts does not report as running."""
    down = []
    for name in services or []:
        state = None
        for key in (name, name + ".service"):
            if key in (service_facts or {}):
                state = service_facts[key].get("state")
                break
        if state != "running":
            down.append(name)
    return down


def _rpm_version(package):
    return "%s-%s" % (package.get("version"), package.get("release"))


def _legacy_skip(name, security, allow, deny, security_only):
    if deny and any(fnmatch.fnmatchcase(name, p) for p in deny):
        return "deny list"
    if allow and not any(fnmatch.fnmatchcase(name, p) for p in allow):
        return "not in allow list"
    if security_only and not security:
        return "not a security update"
    return None


def patching_rpm_pending(updates, installed, advisory_lines=None):
    """Every pending dnf update (``dnf list updates`` results) with the installed version from
    package_facts, ``security`` and its ``dnf updateinfo`` type (``advisory``: security,
    bugfix, enhancement..., None without an advisory)."""
    types = patching_advisory_types(advisory_lines)
    pending = []
    for upd in updates or []:
        name = upd.get("name")
        if not name:
            continue
        current = None
        for inst in (installed or {}).get(name, []):
            current = _rpm_version(inst)
        advisory = types.get(name)
        pending.append(
            {
                "name": name,
                "current": current,
                "candidate": _rpm_version(upd),
                "arch": upd.get("arch"),
                "origins": [upd.get("repo", "")],
                "action": "upgrade" if current else "install",
                "security": advisory == "security",
                "advisory": advisory,
            }
        )
    return pending


def patching_rpm_choose(
    pending, baseline=None, first_seen=None, allow=(), deny=(), security_only=False
):
    """``{pending, selected, skipped}`` for dnf: with a patch baseline, every pending update
    decided in or out with its reason; without one, the role's allow and deny lists and
    security-only mode (a dnf install resolves the dependencies itself)."""
    if baseline:
        try:
            decided, selected, skipped = pb.choose(
                pending, baseline, None, first_seen, (), manager="dnf"
            )
        except pb.BaselineError as exc:
            raise AnsibleFilterError("patching: %s" % exc) from exc
        return {"pending": decided, "selected": selected, "skipped": skipped}
    selected, skipped = [], {}
    for upd in pending or []:
        why = _legacy_skip(upd["name"], upd.get("security"), allow, deny, security_only)
        if why:
            skipped[upd["name"]] = why
        else:
            selected.append(upd)
    return {"pending": list(pending or []), "selected": selected, "skipped": skipped}


def patching_rpm_transaction(
    updates, installed, security_names=None, allow=(), deny=(), security_only=False
):
    """The dnf equivalent of apt_pending's ``selected`` list, from ``dnf list updates``.

    ``updates`` are the results of ``ansible.builtin.dnf: list=updates``, ``installed`` the
    ``ansible_facts.packages`` of package_facts, ``security_names`` the package names that
    ``dnf updateinfo list --security`` reported.
    """
    security_names = set(security_names or [])
    chosen = []
    for upd in updates or []:
        name = upd.get("name")
        if not name:
            continue
        security = name in security_names
        if _legacy_skip(name, security, allow, deny, security_only):
            continue
        current = None
        for inst in (installed or {}).get(name, []):
            current = _rpm_version(inst)
        chosen.append(
            {
                "name": name,
                "current": current,
                "candidate": _rpm_version(upd),
                "arch": upd.get("arch"),
                "origins": [upd.get("repo", "")],
                "action": "upgrade" if current else "install",
                "security": security,
            }
        )
    return chosen


# The order in which one package's advisories name its type: a security advisory wins.
_ADVISORY_RANK = ("security", "bugfix", "enhancement")


def _advisory_lines(advisory_lines):
    """(type, package name) of each ``dnf -q updateinfo list`` line (ID, type, NEVRA)."""
    for line in advisory_lines or []:
        parts = line.split()
        if len(parts) >= 3:
            kind = parts[-2].lower()
            if "sec" in kind:
                kind = "security"
            yield kind, parts[-1].rsplit("-", 2)[0]


def patching_advisory_types(advisory_lines):
    """Package name -> advisory type (security, bugfix, enhancement, ...) from
    ``dnf -q updateinfo list --updates`` lines; a security advisory wins over the others."""
    types = {}
    for kind, name in _advisory_lines(advisory_lines):
        rank = _ADVISORY_RANK.index(kind) if kind in _ADVISORY_RANK else len(_ADVISORY_RANK)
        known = types.get(name)
        known_rank = _ADVISORY_RANK.index(known) if known in _ADVISORY_RANK else len(_ADVISORY_RANK)
        if known is None or rank < known_rank:
            types[name] = kind
    return types


def patching_security_names(advisory_lines):
    """Package names of the security advisories in ``dnf -q updateinfo list`` lines."""
    return sorted({name for kind, name in _advisory_lines(advisory_lines) if kind == "security"})


SKIPPED_BY_RUNNER = "PATCH-04 skipped on this host by the runner (maint_skip_controls)"


def patching_skipped(skipped, selected, would_fail=None, skip=False):
    """data.skipped: package -> why it is left out. The role's own reasons (held, deny list,
    baseline...), each update apt cannot install (the plan's would_fail reason) and, when the
    runner skips PATCH-04 on this host, every update the run would have applied."""
    out = dict(skipped or {})
    for name, why in (would_fail or {}).items():
        out[name] = why
    if skip:
        for pkg in selected or []:
            if pkg.get("action") in ("install", "upgrade"):
                out.setdefault(pkg["name"], SKIPPED_BY_RUNNER)
    return out


def patching_changes(transaction, control="PATCH-04"):
    """data.changes of a transaction whose every package was chosen (dnf: no attribution of
    dependencies)."""
    names = {p["name"] for p in transaction or []}
    return update_changes(control, transaction or [], names)


def patching_windows_changes(updates, control="PATCH-W02"):
    """data.changes of Windows updates (win_updates ``updates``: id -> {title, kb: [...]}): one
    package install per update, named by its KB."""
    from ansible_collections.maint.preventive.plugins.module_utils.changes import change

    out = []
    for key, update in sorted((updates or {}).items()):
        kbs = ["KB%s" % str(kb).upper().removeprefix("KB") for kb in update.get("kb") or []]
        out.append(
            change(control, "package", ", ".join(kbs) or key, "install", after=update.get("title"))
        )
    return out


class FilterModule:
    def filters(self):
        return {
            "patching_findings": patching_findings,
            "patching_skipped": patching_skipped,
            "patching_changes": patching_changes,
            "patching_windows_changes": patching_windows_changes,
            "patching_pins": patching_pins,
            "patching_down_services": patching_down_services,
            "patching_rpm_transaction": patching_rpm_transaction,
            "patching_security_names": patching_security_names,
            "patching_advisory_types": patching_advisory_types,
            "patching_rpm_pending": patching_rpm_pending,
            "patching_rpm_choose": patching_rpm_choose,
            "patching_baseline": patching_baseline,
            "patching_baseline_summary": patching_baseline_summary,
            "patching_reboot_plan": patching_reboot_plan,
            "patching_windows_policy": patching_windows_policy,
        }
