"""Patch baselines: which pending update enters the plan and why the others wait.

The decision logic (plugins/module_utils/patch_baseline.py) and the filters the patching role
calls it through (plugins/filter/patching.py). docs/roles/patching.md, "Patch baselines".
"""

from __future__ import annotations

import pytest

from tests.conftest import load_plugin

pb = load_plugin("plugins/module_utils/patch_baseline.py", "maint_patch_baseline")
filters = (
    load_plugin("plugins/filter/patching.py", "maint_patching_filters_pb").FilterModule().filters()
)

AS_OF = "2026-12-06T10:15:00Z"
DAY = 86400


def policy(**changes):
    base = {
        "classifications": ["all"],
        "kernel": True,
        "approve_after_seconds": 0,
        "holds": [],
        "reject": [],
        "allow": [],
        "reboot": "if_needed",
    }
    base.update(changes)
    return base


def baseline(as_of=AS_OF, name="monthly", **changes):
    return {
        "name": name,
        "source": "window",
        "group": None,
        "as_of": as_of,
        "policy": pb.normalize(policy(**changes)),
    }


def update(name, security=False, current="1.0", candidate="1.1", action="upgrade"):
    return {
        "name": name,
        "current": current if action != "install" else None,
        "candidate": candidate if action not in ("remove", "purge") else None,
        "arch": "all",
        "origins": ["Debian-Security:12/bookworm-security" if security else "maint-lab:/./"],
        "action": action,
        "security": security,
    }


def decide(pending, base, first_seen=None, held=(), manager="apt"):
    return {p["name"]: p for p in pb.decide(pending, base, first_seen, held, manager)}


def verdict(entry):
    return entry["decision"], entry["reason"]


# -- choosing the baseline ------------------------------------------------------------------

BASELINES = {
    "monthly": policy(),
    "canary": policy(classifications=["security"]),
    "frozen": policy(allow=["nothing"]),
}


def test_the_window_baseline_applies_when_no_group_overrides_it():
    chosen = pb.resolve(BASELINES, "monthly", [["canary_hosts", "canary"]], ["web"], AS_OF)
    assert (chosen["name"], chosen["source"], chosen["group"]) == ("monthly", "window", None)
    assert chosen["as_of"] == AS_OF
    assert chosen["policy"]["classifications"] == ["all"]


def test_the_first_listed_group_the_host_is_in_wins():
    groups = [["frozen_hosts", "frozen"], ["canary_hosts", "canary"]]
    chosen = pb.resolve(BASELINES, "monthly", groups, ["canary_hosts", "frozen_hosts"], AS_OF)
    assert (chosen["name"], chosen["source"], chosen["group"]) == (
        "frozen",
        "group",
        "frozen_hosts",
    )
    chosen = pb.resolve(BASELINES, None, groups, ["canary_hosts"], AS_OF)
    assert (chosen["name"], chosen["source"], chosen["group"]) == (
        "canary",
        "group",
        "canary_hosts",
    )


def test_no_baseline_without_a_window_choice_or_group():
    assert pb.resolve(BASELINES, None, [["canary_hosts", "canary"]], ["web"], AS_OF) is None
    assert pb.resolve({}, None, [], ["web"], AS_OF) is None
    assert pb.resolve(None, None, None, None, None) is None


def test_an_unknown_baseline_name_is_an_error():
    with pytest.raises(pb.BaselineError, match=r"'weekly'.*not in maint_patch_baselines"):
        pb.resolve(BASELINES, "weekly", [], [], AS_OF)


def test_bad_policy_values_are_errors():
    with pytest.raises(pb.BaselineError, match="classification"):
        pb.normalize(policy(classifications=["optional"]))
    with pytest.raises(pb.BaselineError, match="reboot"):
        pb.normalize(policy(reboot="sometimes"))
    with pytest.raises(pb.BaselineError, match="until"):
        pb.normalize(policy(holds=[{"package": "x", "reason": "r", "until": "soon"}]))
    with pytest.raises(pb.BaselineError, match="as_of"):
        pb.resolve(BASELINES, "monthly", [], [], "yesterday")


def test_filter_resolves_from_the_role_variables():
    chosen = filters["patching_baseline"](
        BASELINES, "monthly", [["canary_hosts", "canary"]], ["canary_hosts"], as_of=AS_OF
    )
    assert (chosen["name"], chosen["source"], chosen["group"]) == (
        "canary",
        "group",
        "canary_hosts",
    )
    # No baseline: an empty dict, and the role keeps its own variables.
    assert filters["patching_baseline"]({}, None, [], ["web"], as_of="") == {}


def test_filter_takes_the_clock_only_when_the_runner_gave_no_instant():
    chosen = filters["patching_baseline"](BASELINES, "monthly", [], [], as_of="", now=AS_OF)
    assert chosen["as_of"] == AS_OF
    chosen = filters["patching_baseline"](
        BASELINES, "monthly", [], [], as_of="2020-01-01T00:00:00Z", now=AS_OF
    )
    assert chosen["as_of"] == "2020-01-01T00:00:00Z"


# -- the decision order and its reasons ------------------------------------------------------

HOLD = {"package": "maint-fixture-lib", "version": None, "reason": "vendor certifies 1.1 first",
        "until": "2026-12-10"}  # fmt: skip


def test_every_reason_in_order():
    base = baseline(
        classifications=["security"],
        kernel=False,
        approve_after_seconds=7 * DAY,
        holds=[HOLD],
        reject=["*-doc"],
        allow=["maint-*", "linux-*", "zlib*"],
    )
    pending = [
        update("maint-fixture-lib", security=True),
        update("maint-fixture-doc", security=True),
        update("curl", security=True),
        update("linux-image-maint-fixture", security=True),
        update("maint-fixture"),
        update("maint-fixture-agent", security=True),
        update("maint-fixture-tools", security=True),
        update("zlib1g", security=True),
    ]
    seen = {
        "maint-fixture-agent=1.1": "2026-12-03T10:15:00Z",
        "maint-fixture-tools=1.1": "2026-11-27T10:15:00Z",
    }
    got = decide(pending, base, seen)
    assert verdict(got["maint-fixture-lib"]) == (
        "out",
        "held until 2026-12-10: vendor certifies 1.1 first",
    )
    assert verdict(got["maint-fixture-doc"]) == ("out", "rejected by pattern *-doc")
    assert verdict(got["curl"]) == ("out", "not in the allow list (maint-*, linux-*, zlib*)")
    assert verdict(got["linux-image-maint-fixture"]) == ("out", "kernel updates are excluded")
    assert verdict(got["maint-fixture"]) == (
        "out",
        "classification bugfix is not in the baseline (security)",
    )
    assert verdict(got["maint-fixture-agent"]) == ("out", "too new: 3 of 7 days since first seen")
    assert verdict(got["maint-fixture-tools"]) == ("in", "security, 9 days since first seen ≥ 7")
    # Never seen before: first seen now, age 0.
    assert verdict(got["zlib1g"]) == ("out", "too new: 0 of 7 days since first seen")
    assert (got["zlib1g"]["first_seen"], got["zlib1g"]["age_days"]) == (AS_OF, 0)
    assert got["maint-fixture-tools"]["first_seen"] == "2026-11-27T10:15:00Z"
    assert got["maint-fixture-tools"]["age_days"] == 9
    assert got["maint-fixture"]["classification"] == "bugfix"
    assert got["maint-fixture-tools"]["classification"] == "security"


def test_the_first_matching_rule_gives_the_reason():
    everything = baseline(
        classifications=["security"],
        kernel=False,
        approve_after_seconds=DAY,
        holds=[{**HOLD, "package": "linux-image-*"}],
        reject=["linux-image-*"],
        allow=["zlib*"],
    )
    name = "linux-image-amd64"  # bugfix, too new, kernel, not allowed, rejected and held
    assert decide([update(name)], everything)[name]["reason"].startswith("held until")
    del everything["policy"]["holds"][0]
    assert decide([update(name)], everything)[name]["reason"] == "rejected by pattern linux-image-*"
    everything["policy"]["reject"] = []
    assert decide([update(name)], everything)[name]["reason"].startswith("not in the allow list")
    everything["policy"]["allow"] = []
    assert decide([update(name)], everything)[name]["reason"] == "kernel updates are excluded"
    everything["policy"]["kernel"] = True
    assert decide([update(name)], everything)[name]["reason"].startswith("classification bugfix")
    everything["policy"]["classifications"] = ["bugfix"]
    assert decide([update(name)], everything)[name]["reason"].startswith("too new")
    everything["policy"]["approve_after_seconds"] = 0
    assert verdict(decide([update(name)], everything)[name]) == ("in", "bugfix")


def test_a_package_held_on_the_host_stays_out_before_any_rule():
    got = decide([update("curl", security=True)], baseline(), held=["curl"])
    assert verdict(got["curl"]) == ("out", "held on the host (apt-mark hold)")


def test_in_reasons_without_an_age_rule():
    got = decide([update("a", security=True), update("b")], baseline())
    assert verdict(got["a"]) == ("in", "security")
    assert verdict(got["b"]) == ("in", "bugfix")


def test_classification_lists():
    pending = [update("a", security=True), update("b")]
    got = decide(pending, baseline(classifications=["bugfix"]))
    assert verdict(got["a"]) == ("out", "classification security is not in the baseline (bugfix)")
    assert got["b"]["decision"] == "in"
    got = decide(pending, baseline(classifications=["security", "bugfix"]))
    assert {n: e["decision"] for n, e in got.items()} == {"a": "in", "b": "in"}


# -- holds -----------------------------------------------------------------------------------


def test_a_hold_of_one_version_holds_only_that_version():
    hold = {**HOLD, "version": "1.1"}
    got = decide([update("maint-fixture-lib")], baseline(holds=[hold]))
    assert got["maint-fixture-lib"]["decision"] == "out"
    got = decide([update("maint-fixture-lib", candidate="1.2")], baseline(holds=[hold]))
    assert verdict(got["maint-fixture-lib"]) == ("in", "bugfix")


def test_a_hold_lasts_through_its_until_date():
    last_day = baseline(as_of="2026-12-10T23:59:59Z", holds=[HOLD])
    assert decide([update("maint-fixture-lib")], last_day)["maint-fixture-lib"]["decision"] == "out"
    assert pb.expired_holds(last_day) == []


def test_an_expired_hold_no_longer_holds_and_is_a_finding():
    later = baseline(as_of="2026-12-11T00:00:00Z", holds=[{**HOLD, "version": "1.1"}])
    got = decide([update("maint-fixture-lib")], later)
    assert verdict(got["maint-fixture-lib"]) == ("in", "bugfix")
    assert pb.expired_holds(later) == [{**HOLD, "version": "1.1"}]
    findings = filters["patching_findings"]([], [], check_mode=True, baseline=later)
    (expired,) = [f for f in findings if f["id"] == "patching.hold_expired"]
    assert expired["severity"] == "medium"
    for part in ("maint-fixture-lib", "1.1", "vendor certifies 1.1 first", "2026-12-10"):
        assert part in expired["message"]
    assert expired["recommendation"]


def test_an_expired_hold_of_any_version_says_so():
    later = baseline(as_of="2026-12-11T00:00:00Z", holds=[HOLD])
    (expired,) = filters["patching_findings"]([], [], baseline=later)
    assert "maint-fixture-lib (any version)" in expired["message"]


def test_held_updates_are_reported_as_held_on_purpose():
    base = baseline(holds=[HOLD])
    decided = pb.decide([update("maint-fixture-lib")], base)
    findings = filters["patching_findings"](decided, [], check_mode=True, baseline=base)
    (held,) = [f for f in findings if f["id"] == "patching.held_packages"]
    assert (
        "maint-fixture-lib (held until 2026-12-10: vendor certifies 1.1 first)" in held["message"]
    )


# -- kernel packages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manager", "name", "kernel"),
    [
        ("apt", "linux-image-amd64", True),
        ("apt", "linux-image-6.1.0-30-amd64", True),
        ("apt", "linux-headers-amd64", True),
        ("apt", "linux-modules-6.1.0-30-amd64", True),
        ("apt", "linux-image-maint-fixture", True),
        ("apt", "linux-libc-dev", False),
        ("apt", "kernel-package", False),
        ("dnf", "kernel", True),
        ("dnf", "kernel-core", True),
        ("dnf", "kernel-modules-extra", True),
        ("dnf", "kernelshark", False),
        ("dnf", "linux-firmware", False),
    ],
)
def test_kernel_packages(manager, name, kernel):
    assert pb.is_kernel(name, manager) is kernel
    got = decide([update(name)], baseline(kernel=False), manager=manager)
    assert (got[name]["decision"] == "out") is kernel


# -- ages ------------------------------------------------------------------------------------


def _age_case(first_seen, approve=7 * DAY, as_of=AS_OF):
    base = baseline(as_of=as_of, approve_after_seconds=approve)
    return decide([update("pkg")], base, {"pkg=1.1": first_seen})["pkg"]


def test_age_exactly_at_the_threshold_enters():
    entry = _age_case("2026-11-29T10:15:00Z")
    assert verdict(entry) == ("in", "bugfix, 7 days since first seen ≥ 7")
    assert entry["age_days"] == 7


def test_age_one_second_short_of_the_threshold_waits():
    entry = _age_case("2026-11-29T10:15:01Z")
    assert verdict(entry) == ("out", "too new: 6 of 7 days since first seen")
    assert entry["age_days"] == 6


def test_age_counts_from_the_version_first_seen_not_the_package():
    base = baseline(approve_after_seconds=7 * DAY)
    got = decide([update("pkg", candidate="1.2")], base, {"pkg=1.1": "2026-01-01T00:00:00Z"})
    assert verdict(got["pkg"]) == ("out", "too new: 0 of 7 days since first seen")


def test_a_first_sighting_after_the_instant_counts_as_age_zero():
    entry = _age_case("2026-12-07T00:00:00Z")
    assert (entry["age_days"], entry["decision"]) == (0, "out")


def test_ages_below_a_day_are_said_in_hours():
    entry = _age_case("2026-12-05T00:15:00Z", approve=36 * 3600)
    assert verdict(entry) == ("out", "too new: 34 of 36 hours since first seen")
    entry = _age_case("2026-12-04T00:15:00Z", approve=36 * 3600)
    assert verdict(entry) == ("in", "bugfix, 58 hours since first seen ≥ 36")
    entry = _age_case("2026-12-06T10:15:00Z", approve=DAY)
    assert verdict(entry) == ("out", "too new: 0 of 1 day since first seen")


def test_the_decision_uses_the_instant_given_not_the_clock():
    # Both far in the past: by the clock the update would be years old and the hold expired.
    as_of = "2020-01-10T00:00:00Z"
    entry = _age_case("2020-01-05T00:00:00Z", as_of=as_of)
    assert verdict(entry) == ("out", "too new: 5 of 7 days since first seen")
    held = baseline(as_of=as_of, holds=[{**HOLD, "until": "2020-01-15"}])
    assert decide([update("maint-fixture-lib")], held)["maint-fixture-lib"]["decision"] == "out"
    assert pb.expired_holds(held) == []


# -- the transaction of the updates that are in ----------------------------------------------


class FakeApt:
    """apt-get -s install for a tiny universe: each package's candidate pulls its needs."""

    def __init__(self, needs):
        self.needs = needs
        self.calls = []

    def __call__(self, chosen):
        self.calls.append(sorted(p["name"] for p in chosen))
        transaction, seen = [], set()
        todo = list(chosen)
        while todo:
            pkg = todo.pop(0)
            if pkg["name"] in seen:
                continue
            seen.add(pkg["name"])
            transaction.append(pkg)
            todo.extend(self.needs.get(pkg["name"], []))
        return transaction


def test_the_transaction_is_computed_for_the_in_set_with_its_dependencies():
    data = update("maint-fixture-agent-data", action="install", candidate="1.0")
    pending = [update("maint-fixture-agent", security=True), update("maint-fixture-doc"), data]
    apt = FakeApt({"maint-fixture-agent": [data]})
    decided, transaction, skipped = pb.choose(pending, baseline(reject=["*-doc"]), apt)
    assert [p["name"] for p in transaction] == ["maint-fixture-agent", "maint-fixture-agent-data"]
    assert apt.calls == [["maint-fixture-agent"]]
    got = {p["name"]: p for p in decided}
    assert verdict(got["maint-fixture-agent-data"]) == (
        "in",
        "pulled in by the updates in the plan",
    )
    assert skipped == {"maint-fixture-doc": "rejected by pattern *-doc"}


def test_an_update_that_needs_a_held_package_stays_out_with_it():
    lib = update("maint-fixture-lib")
    pending = [update("maint-fixture-agent", security=True), lib, update("maint-fixture-tools")]
    apt = FakeApt({"maint-fixture-agent": [lib]})
    decided, transaction, skipped = pb.choose(pending, baseline(holds=[HOLD]), apt)
    got = {p["name"]: p for p in decided}
    assert verdict(got["maint-fixture-agent"]) == (
        "out",
        "needs maint-fixture-lib 1.1, which is out: held until 2026-12-10: "
        "vendor certifies 1.1 first",
    )
    assert [p["name"] for p in transaction] == ["maint-fixture-tools"]
    assert set(skipped) == {"maint-fixture-agent", "maint-fixture-lib"}


def test_a_dependency_left_out_only_by_classification_or_age_comes_along():
    lib = update("libfoo")
    pending = [update("foo", security=True), lib]
    base = baseline(classifications=["security"])
    decided, transaction, _ = pb.choose(pending, base, FakeApt({"foo": [lib]}))
    got = {p["name"]: p for p in decided}
    assert [p["name"] for p in transaction] == ["foo", "libfoo"]
    assert verdict(got["libfoo"]) == (
        "in",
        "pulled in by the updates in the plan; on its own: "
        "classification bugfix is not in the baseline (security)",
    )


def test_new_packages_and_removals_of_updates_left_out_stay_out():
    pending = [
        update("foo", security=True),
        update("newdep", action="install"),
        update("olddep", action="remove"),
        update("conffiles", action="purge"),
    ]
    decided, transaction, _ = pb.choose(pending, baseline(reject=["foo"]), FakeApt({}))
    got = {p["name"]: p for p in decided}
    assert transaction == []
    assert verdict(got["newdep"]) == ("out", "a new package only updates left out need")
    assert verdict(got["olddep"]) == ("out", "removed only for updates left out")
    assert verdict(got["conffiles"]) == ("out", "removed only for updates left out")


def test_without_a_simulation_the_in_set_is_the_transaction():
    pending = [update("a", security=True), update("b")]
    _, transaction, skipped = pb.choose(pending, baseline(classifications=["security"]))
    assert [p["name"] for p in transaction] == ["a"]
    assert skipped == {"b": "classification bugfix is not in the baseline (security)"}


def test_every_pending_entry_carries_its_decision():
    pending = [update("a", security=True), update("b"), update("c", action="install")]
    decided, _, _ = pb.choose(pending, baseline(), FakeApt({}))
    for entry in decided:
        assert entry["decision"] in ("in", "out")
        assert entry["reason"]
        assert set(entry) >= {"first_seen", "age_days", "classification"}
    # the input is left as it was
    assert "decision" not in pending[0]


# -- the RHEL family -------------------------------------------------------------------------

ADVISORIES = [
    "RHSA-2024:1234 Important/Sec. openssl-1:3.0.7-27.el9.x86_64",
    "RHBA-2024:2222 bugfix vim-minimal-2:9.0.2-2.el9.x86_64",
    "RHEA-2024:3333 enhancement tzdata-2024b-1.el9.noarch",
    "RHBA-2024:4444 bugfix openssl-1:3.0.7-27.el9.x86_64",
]
DNF_UPDATES = [
    {"name": "openssl", "version": "3.0.7", "release": "27.el9", "arch": "x86_64",
     "repo": "baseos"},
    {"name": "vim-minimal", "version": "9.0.2", "release": "2.el9", "arch": "x86_64",
     "repo": "appstream"},
    {"name": "tzdata", "version": "2024b", "release": "1.el9", "arch": "noarch", "repo": "baseos"},
    {"name": "kernel-core", "version": "5.14.0", "release": "427.el9", "arch": "x86_64",
     "repo": "baseos"},
]  # fmt: skip
INSTALLED = {
    "openssl": [{"version": "3.0.7", "release": "25.el9"}],
    "vim-minimal": [{"version": "9.0.1", "release": "1.el9"}],
    "tzdata": [{"version": "2024a", "release": "1.el9"}],
    "kernel-core": [{"version": "5.14.0", "release": "362.el9"}],
}


def test_advisory_types_from_updateinfo():
    types = filters["patching_advisory_types"](ADVISORIES)
    assert types == {
        "openssl": "security",  # a security advisory wins over a bugfix one
        "vim-minimal": "bugfix",
        "tzdata": "enhancement",
    }
    # the security names read the same lines, whatever types they list
    assert filters["patching_security_names"](ADVISORIES) == ["openssl"]


def test_rhel_pending_lists_every_update_with_its_classification():
    pending = filters["patching_rpm_pending"](DNF_UPDATES, INSTALLED, ADVISORIES)
    got = {p["name"]: p for p in pending}
    assert got["openssl"]["security"] is True
    assert got["openssl"]["advisory"] == "security"
    assert got["tzdata"]["advisory"] == "enhancement"
    assert got["kernel-core"]["advisory"] is None
    assert got["vim-minimal"]["current"] == "9.0.1-1.el9"
    assert got["vim-minimal"]["candidate"] == "9.0.2-2.el9"


def test_rhel_choice_with_a_baseline():
    pending = filters["patching_rpm_pending"](DNF_UPDATES, INSTALLED, ADVISORIES)
    base = baseline(classifications=["security"], kernel=False)
    choice = filters["patching_rpm_choose"](pending, baseline=base, first_seen={})
    got = {p["name"]: p for p in choice["pending"]}
    assert [p["name"] for p in choice["selected"]] == ["openssl"]
    assert got["kernel-core"]["reason"] == "kernel updates are excluded"
    assert got["tzdata"]["reason"] == "classification bugfix is not in the baseline (security)"
    assert choice["skipped"]["vim-minimal"].startswith("classification bugfix")


def test_rhel_choice_without_a_baseline_keeps_the_role_variables():
    pending = filters["patching_rpm_pending"](DNF_UPDATES, INSTALLED, ADVISORIES)
    choice = filters["patching_rpm_choose"](pending, deny=["kernel*"], security_only=False)
    assert [p["name"] for p in choice["selected"]] == ["openssl", "vim-minimal", "tzdata"]
    assert choice["skipped"] == {"kernel-core": "deny list"}
    assert all("decision" not in p for p in choice["pending"])
    choice = filters["patching_rpm_choose"](pending, security_only=True)
    assert [p["name"] for p in choice["selected"]] == ["openssl"]


# -- Windows ---------------------------------------------------------------------------------


def test_windows_mapping_of_a_baseline():
    base = baseline(
        classifications=["security"],
        holds=[
            {"package": "KB5031234", "version": None, "reason": "breaks the ERP client",
             "until": "2026-12-31"},
            {"package": "KB5000001", "version": None, "reason": "old", "until": "2026-01-01"},
        ],
        reject=["*Preview*"],
        allow=["KB50*"],
        reboot="never",
    )  # fmt: skip
    mapped = filters["patching_windows_policy"](base, ["CriticalUpdates"], ["KB1"], True)
    assert mapped == {
        "category_names": ["SecurityUpdates", "CriticalUpdates"],
        "reject_list": ["^.*Preview.*$", "^KB5031234$"],
        "accept_list": ["^KB50.*$"],
        "reboot": False,
    }
    mapped = filters["patching_windows_policy"](baseline(classifications=["bugfix"]), [], [], False)
    assert mapped["category_names"] == ["Updates", "UpdateRollups", "ServicePacks"]
    assert mapped["accept_list"] is None
    assert mapped["reboot"] is True
    assert filters["patching_windows_policy"](baseline(), [], [], False)["category_names"] == ["*"]


def test_windows_reboots_only_with_time_left_in_the_window():
    mapped = filters["patching_windows_policy"](
        baseline(), [], [], False, deadline="2026-12-06T22:10:00Z", now=NOW, timeout=900
    )
    assert mapped["reboot"] is False
    mapped = filters["patching_windows_policy"](
        {}, [], [], True, deadline="2026-12-06T22:20:00Z", now=NOW, timeout=900
    )
    assert mapped["reboot"] is True


def test_windows_mapping_without_a_baseline_keeps_the_role_variables():
    mapped = filters["patching_windows_policy"]({}, ["CriticalUpdates"], ["KB1"], False)
    assert mapped == {
        "category_names": ["CriticalUpdates"],
        "reject_list": ["KB1"],
        "accept_list": None,
        "reboot": False,
    }


# -- reboot policy ---------------------------------------------------------------------------

NOW = "2026-12-06T22:00:00Z"


def reboot(policy_name=None, legacy=False, **kw):
    base = baseline(reboot=policy_name) if policy_name else {}
    args = {"required": True, "installed": True, "check_mode": False, "deadline": "",
            "now": NOW, "timeout": 900}  # fmt: skip
    args.update(kw)
    return filters["patching_reboot_plan"](base, legacy, **args)


def test_reboot_policies():
    assert reboot("never") == {"policy": "never", "reboot": False,
                               "reason": "the baseline never reboots",
                               "note": "the baseline never reboots"}  # fmt: skip
    assert reboot("if_needed")["reboot"] is True
    assert reboot("if_needed", required=False)["reboot"] is False
    assert reboot("always", required=False)["reboot"] is True
    assert reboot("always", required=False, installed=False)["reboot"] is False
    assert reboot("if_needed", check_mode=True)["reboot"] is False
    assert reboot("if_needed", check_mode=True)["note"] == ""


def test_reboot_flags_given_as_text():
    assert reboot("if_needed", required="False")["reboot"] is False
    assert reboot(None, legacy="false")["policy"] == "never"
    assert reboot(None, legacy="True")["policy"] == "if_needed"


def test_reboot_without_a_baseline_follows_patching_reboot():
    assert reboot(None, legacy=True)["policy"] == "if_needed"
    assert reboot(None, legacy=True)["reboot"] is True
    # and a pending-reboot finding says what it always said
    assert reboot(None, legacy=False) == {
        "policy": "never",
        "reboot": False,
        "reason": "patching_reboot is false",
        "note": "",
    }


def test_reboot_only_when_the_window_has_time_left():
    assert reboot("if_needed", deadline="2026-12-06T22:15:00Z")["reboot"] is True
    late = reboot("if_needed", deadline="2026-12-06T22:14:59Z")
    assert late["reboot"] is False
    assert (
        late["reason"]
        == late["note"]
        == (
            "no time left in the window: a reboot may take 15 minutes and the cutoff is "
            "2026-12-06T22:14:59Z"
        )
    )
    assert reboot(None, legacy=True, deadline="2026-12-06T22:00:00Z")["note"].startswith(
        "no time left"
    )


def test_a_reboot_left_for_later_is_reported_with_its_reason():
    findings = filters["patching_findings"](
        [],
        [],
        applied=True,
        reboot_required=True,
        reboot_allowed=False,
        reboot_reason="the baseline never reboots",
    )
    (pending,) = findings
    assert pending["id"] == "patching.reboot_pending"
    assert pending["message"].endswith("(the baseline never reboots)")
