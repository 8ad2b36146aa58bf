# Copyright: maint developers
# Apache License 2.0 (see galaxy.yml)
"""Patch baselines: which pending updates a plan takes, and why each other one waits.

The runner passes maint.yml's ``patch_baselines:`` to the patching role as extra variables
(docs/roles/patching.md, "Patch baselines"). This module holds the whole decision, as pure
functions unit-tested in tests/unit/test_patch_baseline.py; the ``apt_pending`` module and the
role's filters call it:

* :func:`resolve` chooses a host's baseline: the first listed group override the host is in,
  else the window's baseline; none when neither names one (the role then keeps its own
  ``patching_*`` variables).
* :func:`decide` gives every pending update ``decision`` (``in`` or ``out``) and ``reason``,
  checking in this order: held on the host (apt-mark hold), held by the baseline, rejected by
  pattern, not in the allow list, kernel excluded, classification, too new; else in.
* :func:`settle` computes the transaction of the updates that are in (``simulate``: apt's own
  simulation), keeps out every update that would drag a held, rejected or excluded kernel
  package along, and marks what the transaction pulls in.

Every age and hold expiry is judged as of ``as_of``, the instant the runner made the plan, never
the clock: the plan, its drift check and its apply decide the same.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import date, datetime, timedelta, timezone

IN, OUT = "in", "out"
CLASSIFICATIONS = ("security", "bugfix", "all")
REBOOT_POLICIES = ("never", "if_needed", "always")
KERNEL_PATTERNS = {
    "apt": ("linux-image-*", "linux-headers-*", "linux-modules-*"),
    "dnf": ("kernel", "kernel-*"),
}
DAY = 86400
HOUR = 3600
STAMP = "%Y-%m-%dT%H:%M:%SZ"
POLICY_KEYS = (
    "classifications",
    "kernel",
    "approve_after_seconds",
    "holds",
    "reject",
    "allow",
    "reboot",
)
HOST_HOLD = "held on the host (apt-mark hold)"


class BaselineError(ValueError):
    """A baseline, a hold or an instant the role cannot decide with."""


# -- instants and durations ------------------------------------------------------------------


def parse_instant(text, what="instant"):
    """``YYYY-MM-DDTHH:MM:SSZ`` (or with an offset) as an aware UTC datetime."""
    if isinstance(text, datetime):
        value = text
    else:
        raw = str(text or "").strip()
        if raw.endswith("Z"):
            raw = raw[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise BaselineError("%s %r is not YYYY-MM-DDTHH:MM:SSZ" % (what, text)) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def stamp(instant):
    return instant.astimezone(timezone.utc).strftime(STAMP)


def _parse_date(text, what):
    if isinstance(text, date) and not isinstance(text, datetime):
        return text
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise BaselineError("%s %r is not a date YYYY-MM-DD" % (what, text)) from None


def _unit(seconds):
    """The unit an age rule is said in: days when it is whole days, else hours."""
    return (DAY, "day") if seconds % DAY == 0 else (HOUR, "hour")


def _amount(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


# -- the policy ------------------------------------------------------------------------------


def _patterns(value, what):
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise BaselineError("%s must be a list of shell patterns, got %r" % (what, value))
    return [str(p) for p in value]


def normalize(spec):
    """A baseline's policy (the runner's shape) checked and completed with the defaults."""
    if not isinstance(spec, dict):
        raise BaselineError("a patch baseline must be a mapping, got %r" % (spec,))
    unknown = sorted(set(spec) - set(POLICY_KEYS))
    if unknown:
        raise BaselineError("unknown patch baseline keys: %s" % ", ".join(unknown))
    classes = list(spec.get("classifications") or ["all"])
    for item in classes:
        if item not in CLASSIFICATIONS:
            raise BaselineError(
                "classification %r is not one of %s" % (item, ", ".join(CLASSIFICATIONS))
            )
    reboot = spec.get("reboot") or "if_needed"
    if reboot not in REBOOT_POLICIES:
        raise BaselineError("reboot %r is not one of %s" % (reboot, ", ".join(REBOOT_POLICIES)))
    try:
        approve = int(spec.get("approve_after_seconds") or 0)
    except (TypeError, ValueError):
        raise BaselineError(
            "approve_after_seconds %r is not a number" % (spec.get("approve_after_seconds"),)
        ) from None
    if approve < 0:
        raise BaselineError("approve_after_seconds %d is negative" % approve)
    holds = []
    for hold in spec.get("holds") or []:
        if not isinstance(hold, dict) or not hold.get("package"):
            raise BaselineError("a hold needs a package, got %r" % (hold,))
        if not hold.get("reason"):
            raise BaselineError("the hold of %s needs a reason" % hold["package"])
        until = _parse_date(hold.get("until"), "the hold of %s: until" % hold["package"])
        version = hold.get("version")
        holds.append(
            {
                "package": str(hold["package"]),
                "version": None if version in (None, "") else str(version),
                "reason": str(hold["reason"]),
                "until": until.isoformat(),
            }
        )
    kernel = spec.get("kernel", True)
    return {
        "classifications": classes,
        "kernel": True if kernel is None else bool(kernel),
        "approve_after_seconds": approve,
        "holds": holds,
        "reject": _patterns(spec.get("reject"), "reject"),
        "allow": _patterns(spec.get("allow"), "allow"),
        "reboot": reboot,
    }


def resolve(baselines, window=None, groups=None, host_groups=None, as_of=None):
    """The baseline of one host, or None when neither a group nor the window names one.

    ``groups`` are ``[group, name]`` pairs in maint.yml order: the first group the host is in
    (``host_groups``) wins over the window's ``window``. Returns ``{name, source (window or
    group), group, as_of, policy}``.
    """
    baselines = baselines or {}
    if not baselines:
        return None
    chosen, source, group = window or None, "window", None
    host_groups = set(host_groups or [])
    for pair in groups or []:
        if len(pair) != 2:
            raise BaselineError("a baseline group override is [group, name], got %r" % (pair,))
        if pair[0] in host_groups:
            chosen, source, group = pair[1], "group", pair[0]
            break
    if not chosen:
        return None
    if chosen not in baselines:
        where = "group %s" % group if group else "the window"
        raise BaselineError(
            "patch baseline %r (from %s) is not in maint_patch_baselines (%s)"
            % (chosen, where, ", ".join(sorted(baselines)))
        )
    return {
        "name": chosen,
        "source": source,
        "group": group,
        "as_of": stamp(parse_instant(as_of, "as_of")),
        "policy": normalize(baselines[chosen]),
    }


def _as_of(baseline):
    return parse_instant(baseline["as_of"], "as_of")


# -- holds -----------------------------------------------------------------------------------


def _hold_matches(hold, name, version):
    if not fnmatch.fnmatchcase(name, hold["package"]):
        return False
    wanted = hold.get("version")
    return wanted is None or fnmatch.fnmatchcase(str(version or ""), wanted)


def _active(hold, as_of):
    return _parse_date(hold["until"], "until") >= as_of.date()


def active_hold(baseline, name, version):
    """The baseline hold that keeps ``name`` at ``version`` out, or None."""
    as_of = _as_of(baseline)
    for hold in baseline["policy"]["holds"]:
        if _hold_matches(hold, name, version) and _active(hold, as_of):
            return hold
    return None


def expired_holds(baseline):
    """The holds of the baseline whose date has passed as of its instant: they hold nothing."""
    if not baseline:
        return []
    as_of = _as_of(baseline)
    return [h for h in baseline["policy"]["holds"] if not _active(h, as_of)]


def hold_text(hold):
    return "held until %s: %s" % (hold["until"], hold["reason"])


# -- the decision ----------------------------------------------------------------------------


def is_kernel(name, manager="apt"):
    """A kernel package: linux-image-*, linux-headers-*, linux-modules-* (apt); kernel and
    kernel-* (dnf)."""
    return any(fnmatch.fnmatchcase(name, p) for p in KERNEL_PATTERNS.get(manager, ()))


def _first(name, patterns):
    for pattern in patterns:
        if fnmatch.fnmatchcase(name, pattern):
            return pattern
    return None


def classification(update):
    """security (from a security archive or advisory), else bugfix."""
    return "security" if update.get("security") else "bugfix"


def blocker(baseline, update, held=(), manager="apt"):
    """Why ``update`` may not move even as another update's dependency (a hold on the host or
    in the baseline, a reject pattern, the kernel exclusion), or None."""
    name, version = update["name"], update.get("candidate")
    if name in held:
        return HOST_HOLD
    hold = active_hold(baseline, name, version)
    if hold:
        return hold_text(hold)
    policy = baseline["policy"]
    pattern = _first(name, policy["reject"])
    if pattern:
        return "rejected by pattern %s" % pattern
    if not policy["kernel"] and is_kernel(name, manager):
        return "kernel updates are excluded"
    return None


def _verdict(baseline, update, kind, age, held, manager):
    policy = baseline["policy"]
    why = blocker(baseline, update, held, manager)
    if why and why.startswith(("held", "rejected")):
        return OUT, why
    if policy["allow"] and not _first(update["name"], policy["allow"]):
        return OUT, "not in the allow list (%s)" % ", ".join(policy["allow"])
    if why:
        return OUT, why
    classes = policy["classifications"]
    if "all" not in classes and kind not in classes:
        return OUT, "classification %s is not in the baseline (%s)" % (kind, ", ".join(classes))
    approve = policy["approve_after_seconds"]
    if not approve:
        return IN, kind
    size, word = _unit(approve)
    count, threshold = int(age // size), approve // size
    if age < approve:
        return OUT, "too new: %d of %s since first seen" % (count, _amount(threshold, word))
    return IN, "%s, %s since first seen \u2265 %d" % (kind, _amount(count, word), threshold)


def decide(pending, baseline, first_seen=None, held=(), manager="apt"):
    """Copies of the ``pending`` updates, each with ``decision``, ``reason``, ``classification``,
    ``first_seen`` and ``age_days``.

    ``first_seen`` maps ``NAME=VERSION`` to the instant the runner first saw that version
    pending on this host; an update not listed was never seen before (first seen as of now, age
    0). New packages and removals (``action`` install or remove) follow the transaction:
    :func:`settle` decides them.
    """
    first_seen = first_seen or {}
    as_of = _as_of(baseline)
    held = set(held or ())
    decided = []
    for update in pending or []:
        entry = dict(update)
        kind = classification(update)
        seen_text = first_seen.get("%s=%s" % (update["name"], update.get("candidate") or ""))
        seen = parse_instant(seen_text, "first seen") if seen_text else as_of
        seen = min(seen, as_of)
        age = (as_of - seen).total_seconds()
        entry["classification"] = kind
        entry["first_seen"] = stamp(seen)
        entry["age_days"] = int(age // DAY)
        if update.get("action", "upgrade") == "upgrade":
            entry["decision"], entry["reason"] = _verdict(
                baseline, update, kind, age, held, manager
            )
        else:
            entry["decision"], entry["reason"] = None, None
        decided.append(entry)
    return decided


def _chosen(decided):
    return [p for p in decided if p["decision"] == IN]


def settle(decided, baseline, simulate=None, held=(), manager="apt"):
    """The transaction of the updates decided in, with ``simulate(chosen) -> transaction``
    (apt's simulation of installing exactly them; None: the chosen updates are the whole
    transaction, as with dnf). Updates in ``decided`` are updated in place:

    * an update whose transaction would move a package held, rejected or kernel-excluded goes
      out ("needs P V, which is out: WHY"), and the transaction is computed again without it;
    * a pending package the transaction moves is in ("pulled in by the updates in the plan",
      with why it was out on its own);
    * a new package or removal the transaction does not make is out.
    """
    by_name = {p["name"]: p for p in decided}
    held = set(held or ())
    transaction = []
    while True:
        chosen = _chosen(decided)
        if not chosen:
            transaction = []
            break
        transaction = simulate(chosen) if simulate else [dict(p) for p in chosen]
        names = {p["name"] for p in chosen}
        blocked = {}
        for moved in transaction:
            if moved["name"] in names:
                continue
            why = blocker(baseline, moved, held, manager)
            if why:
                blocked[moved["name"]] = (moved, why)
        if not blocked:
            break
        culprits = {}
        for update in chosen:
            for moved in simulate([update]):
                if moved["name"] in blocked and moved["name"] != update["name"]:
                    culprits[update["name"]] = blocked[moved["name"]]
                    break
        if not culprits:  # only together do they need it: none of them can go
            first = next(iter(blocked.values()))
            culprits = {update["name"]: first for update in chosen}
        for name, (moved, why) in culprits.items():
            by_name[name]["decision"] = OUT
            by_name[name]["reason"] = "needs %s %s, which is out: %s" % (
                moved["name"],
                moved.get("candidate") or "(removed)",
                why,
            )
    moving = {p["name"] for p in transaction}
    for entry in decided:
        if entry["name"] in moving and entry["decision"] != IN:
            was = entry["reason"]
            entry["decision"] = IN
            entry["reason"] = "pulled in by the updates in the plan" + (
                "; on its own: %s" % was if was else ""
            )
        elif entry["decision"] is None:
            entry["decision"] = OUT
            entry["reason"] = (
                "removed only for updates left out"
                if entry.get("action") in ("remove", "purge")
                else "a new package only updates left out need"
            )
    return transaction


def choose(pending, baseline, simulate=None, first_seen=None, held=(), manager="apt"):
    """Decide and settle: ``(decided pending, transaction, skipped)``; ``skipped`` maps each
    update left out to its reason (``data.skipped``)."""
    decided = decide(pending, baseline, first_seen, held, manager)
    transaction = settle(decided, baseline, simulate, held, manager)
    skipped = {
        p["name"]: p["reason"]
        for p in decided
        if p["decision"] == OUT and p.get("action", "upgrade") == "upgrade"
    }
    return decided, transaction, skipped


def summary(baseline):
    """``data.baseline``: which baseline decided, where it came from, as of when."""
    if not baseline:
        return None
    return {
        "name": baseline["name"],
        "source": baseline["source"],
        "group": baseline["group"],
        "as_of": baseline["as_of"],
    }


# -- reboot ----------------------------------------------------------------------------------


def reboot_plan(
    baseline,
    legacy_reboot,
    required,
    installed,
    check_mode,
    deadline="",
    now=None,
    timeout=900,
):
    """Whether to reboot now, by the baseline's policy (never, if_needed, always) or, without
    one, ``patching_reboot`` (true: if_needed, false: never); only when the reboot's timeout
    still ends before the window's ``deadline`` (empty: no limit).

    Returns ``{policy, reboot, reason, note}``: ``note`` is what a pending-reboot finding adds
    (empty where the role always said nothing: without a baseline, or in check mode)."""
    if baseline:
        policy = baseline["policy"]["reboot"]
        never = "the baseline never reboots"
    else:
        policy = "if_needed" if legacy_reboot else "never"
        never = "patching_reboot is false"

    def plan(reboot, reason, note=True):
        shown = note and (baseline or reason.startswith("no time left"))
        return {
            "policy": policy,
            "reboot": reboot,
            "reason": reason,
            "note": reason if shown else "",
        }

    if policy == "never":
        return plan(False, never)
    if check_mode:
        return plan(False, "check mode", note=False)
    if policy == "if_needed" and not required:
        return plan(False, "no reboot required")
    if policy == "always" and not (installed or required):
        return plan(False, "nothing was installed")
    if deadline:
        cutoff = parse_instant(deadline, "deadline")
        start = parse_instant(now, "now") if now else datetime.now(timezone.utc)
        if start + timedelta(seconds=int(timeout)) > cutoff:
            return plan(
                False,
                "no time left in the window: a reboot may take %s and the cutoff is %s"
                % (_amount(int(timeout) // 60, "minute"), stamp(cutoff)),
            )
    return plan(True, "required by the updates" if required else "the baseline always reboots")


# -- Windows ---------------------------------------------------------------------------------

WINDOWS_CATEGORIES = {
    "security": ("SecurityUpdates", "CriticalUpdates"),
    "bugfix": ("Updates", "UpdateRollups", "ServicePacks"),
}


def glob_regex(pattern):
    """A shell pattern as the anchored regex win_updates matches KBs and titles with."""
    out = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    return "^%s$" % "".join(out)


def windows_policy(baseline, categories=(), reject=(), legacy_reboot=False, deadline="", now=None,
                   timeout=900):  # fmt: skip
    """win_updates arguments: ``category_names``, ``reject_list``, ``accept_list`` (None: no
    accept list) and ``reboot``, from the baseline, else from the role variables.

    ``reboot`` is win_updates' own: reboot when an update requires it. So ``always`` reboots
    only when required, like ``if_needed``; neither reboots when the reboot's timeout would end
    after the window's ``deadline``."""
    plan = reboot_plan(baseline, legacy_reboot, True, True, False, deadline, now, timeout)
    if not baseline:
        return {
            "category_names": list(categories or []),
            "reject_list": list(reject or []),
            "accept_list": None,
            "reboot": plan["reboot"],
        }
    policy = baseline["policy"]
    if "all" in policy["classifications"]:
        names = ["*"]
    else:
        names = []
        for kind in policy["classifications"]:
            names += [c for c in WINDOWS_CATEGORIES[kind] if c not in names]
    as_of = _as_of(baseline)
    rejected = [glob_regex(p) for p in policy["reject"]]
    rejected += [
        glob_regex(h["package"]) for h in policy["holds"] if _active(h, as_of)
    ]  # a KB held by the baseline
    return {
        "category_names": names,
        "reject_list": rejected,
        "accept_list": [glob_regex(p) for p in policy["allow"]] or None,
        "reboot": plan["reboot"],
    }
