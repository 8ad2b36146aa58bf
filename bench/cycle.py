"""Preventive cycle benchmark: Ansible's default settings against the runner's tuned ones.

    .venv/bin/python bench/cycle.py --sizes 10,50 --runs 3 --json        # as root, lab image built

For each fleet size the benchmark starts that many lab hosts (``maint lab up``) and times
``maint run access_review backup_verify antivirus patching hardening`` (for real, not check mode)
in two cycles, with the arms side by side in one run (their order alternates per repetition):

* ``noop``: the hosts were brought into compliance by one untimed run first, so every timed run
  changes nothing (the figures report how many results said ``changed``);
* ``changes``: a fresh fleet for every timed run, each host with maint-fixture 1.0 (the fault
  ``outdated``) and the hardening controls not applied: patching installs 1.1 and hardening
  applies its file-based controls on every host.

With ``--cycles changes,noop --noop-on-changed`` the noop cycle runs on the fleet that the last
run with changes left compliant: no second fleet and no untimed converge run (at 200 hosts that
run alone takes about 40 minutes).

The hardening controls that install packages (AUTH-03, AUTH-04, LOG-01, PKG-01, PKG-02) are off:
lab hosts with the fixture repository see no Debian mirror, and downloads would time the mirror.

Arms: ``default`` is Ansible's built-in defaults (an empty ansible.cfg, MAINT_ANSIBLE_TUNING=off:
forks 5, no pipelining, ControlPersist 60 s, linear strategy, and every fact gathered through
``maint_gather_subset: all``); ``tuned`` is what the runner sets by itself
(maintenance_runner.ansible.tuning: the SSH settings and mitogen, unpinned, and the
playbooks' ``min`` fact subset); ``ssh`` is MAINT_ANSIBLE_TUNING=ssh (the SSH settings
without mitogen);
``pinned`` is tuned with mitogen's own ``mitogen_linear`` strategy, which pins processes to
CPUs; ``free`` is ``ssh`` with the free strategy.
Every timed run starts cold: its own SSH control directory (masters are closed after the run) and
its own empty fact cache. Per run the figures are the wall time, the CPU time of the
runner's process tree (maint, ansible-playbook, its workers, ssh) and of the lab containers
(cgroup cpuacct), and at ``--memory-size`` the peak memory of the runner's process tree (sum of
PSS, sampled every 0.5 s with psutil; RSS sum and the largest single RSS beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from maintenance_runner.ansible import tuning  # noqa: E402
from maintenance_runner.lab import fleet as lab  # noqa: E402

TASKS = ("access_review", "backup_verify", "antivirus", "patching", "hardening")
BENCH_VARS = {
    "hardening_pam_pwquality": False,
    "hardening_pam_tmpdir": False,
    "hardening_syslog": False,
    "hardening_pkg_integrity": False,
    "hardening_needrestart": False,
    "hardening_auditd": False,
    "hardening_aide": False,
    "hardening_accounting": False,
    "hardening_fail2ban": False,
}
MAINT = Path(sys.executable).parent / "maint"


ARMS = ("default", "tuned", "ssh", "pinned", "free")


def arm_env(arm: str, work: Path, control_dir: Path, facts_dir: Path) -> dict[str, str]:
    """The environment of one arm's run: the runner applies its tuning itself (ansible_env)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.pop(tuning.SWITCH, None)
    empty_cfg = work / "empty.cfg"
    empty_cfg.touch()
    env["ANSIBLE_CONFIG"] = str(empty_cfg)  # not the checkout's ansible.cfg
    env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(control_dir)  # a cold start for every run
    env["ANSIBLE_CACHE_PLUGIN_CONNECTION"] = str(facts_dir)  # (where the arm caches facts)
    if arm == "default":
        env[tuning.SWITCH] = "off"
    elif arm in ("ssh", "free"):
        env[tuning.SWITCH] = "ssh"
        if arm == "free":
            env["ANSIBLE_STRATEGY"] = "free"
    elif arm == "pinned":
        import ansible_mitogen

        env["ANSIBLE_STRATEGY_PLUGINS"] = str(
            Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
        )
        env["ANSIBLE_STRATEGY"] = "mitogen_linear"
    elif arm != "tuned":
        raise SystemExit(f"unknown arm {arm!r}: {', '.join(ARMS)}")
    return env


def arm_vars(arm: str) -> dict[str, object]:
    """The extra variables of one arm's run: ``default`` gathers every fact, as Ansible does
    by default; the others gather the playbooks' own ``min`` subset."""
    if arm == "default":
        return {**BENCH_VARS, "maint_gather_subset": "all"}
    return dict(BENCH_VARS)


def close_masters(control_dir: Path) -> None:
    """Close the SSH master connections a run left in its control directory."""
    if not control_dir.is_dir():
        return
    for sock in control_dir.iterdir():
        subprocess.run(
            ["ssh", "-O", "exit", "-o", f"ControlPath={sock}", "lab"],
            capture_output=True,
            check=False,
            timeout=10,
        )


def container_ids(prefix: str) -> list[str]:
    """Full ids of the running lab containers started with this prefix."""
    ids = subprocess.run(
        ["podman", "ps", "-q", "--no-trunc", "--filter", f"label=maint.lab.prefix={prefix}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return ids.stdout.split()


def fleet_cpu_ns(prefix: str) -> int:
    """CPU time used so far by the lab containers of a prefix (cgroup v1 cpuacct)."""
    total = 0
    for cid in container_ids(prefix):
        for base in ("/sys/fs/cgroup/cpuacct/libpod_parent", "/sys/fs/cgroup/cpu,cpuacct"):
            usage = Path(base) / f"libpod-{cid}" / "cpuacct.usage"
            if usage.is_file():
                total += int(usage.read_text())
                break
    return total


class TreeSampler(threading.Thread):
    """Peak memory of a process and its descendants, sampled until stopped."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.stop = threading.Event()
        self.peak_pss = self.peak_rss = self.peak_single_rss = 0
        self.peak_processes = 0

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            pss = rss = single = 0
            for proc in procs:
                try:
                    info = proc.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                pss += getattr(info, "pss", info.rss)
                rss += info.rss
                single = max(single, info.rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_single_rss = max(self.peak_single_rss, single)
            self.peak_processes = max(self.peak_processes, len(procs))
            self.stop.wait(self.interval)


def timed_run(arm: str, inventory: Path, work: Path, prefix: str, memory: bool) -> dict[str, Any]:
    control_dir = Path(tempfile.mkdtemp(prefix="cp-", dir=work))
    facts_dir = Path(tempfile.mkdtemp(prefix="facts-", dir=work))
    env = arm_env(arm, work, control_dir, facts_dir)
    vars_file = work / f"bench-vars-{arm}.json"
    vars_file.write_text(json.dumps(arm_vars(arm)))
    cmd = [str(MAINT), "run", *TASKS, "-i", str(inventory), "-e", f"@{vars_file}", "--json"]
    fleet_before = fleet_cpu_ns(prefix)
    load_before = os.getloadavg()[0]
    # CPU of every descendant that its parent waited for (maint, ansible-playbook, its workers,
    # the ssh clients; not the detached ControlPersist masters), read before any other child.
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = psutil.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid) if memory else None
    if sampler:
        sampler.start()
    out, err = proc.communicate()
    wall = time.monotonic() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if sampler:
        sampler.stop.set()
        sampler.join()
    runner_cpu = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    fleet_cpu = (fleet_cpu_ns(prefix) - fleet_before) / 1e9
    close_masters(control_dir)
    shutil.rmtree(control_dir, ignore_errors=True)
    shutil.rmtree(facts_dir, ignore_errors=True)
    try:
        results = json.loads(out)
    except json.JSONDecodeError:
        results = []
    statuses = Counter(r["status"] for r in results)
    row: dict[str, Any] = {
        "arm": arm,
        "rc": proc.returncode,
        "wall_s": round(wall, 2),
        "runner_cpu_s": round(runner_cpu, 2),
        "fleet_cpu_s": round(fleet_cpu, 2),
        "results": len(results),
        "statuses": dict(statuses),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    if proc.returncode != 0:
        row["stderr_tail"] = err.strip()[-500:]
    if sampler:
        row["peak_pss_mib"] = round(sampler.peak_pss / 2**20, 1)
        row["peak_rss_sum_mib"] = round(sampler.peak_rss / 2**20, 1)
        row["peak_single_rss_mib"] = round(sampler.peak_single_rss / 2**20, 1)
        row["peak_processes"] = sampler.peak_processes
    return row


def fleet(size: int, args: argparse.Namespace, faults: str, state: Path) -> Path:
    started = time.monotonic()
    lab.up(size, args.base_port, args.prefix, True, state, faults, echo=lambda _line: None)
    print(f"  fleet of {size} up in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return state / "hosts.yml"


def summarize(rows: list[dict[str, Any]], size: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for arm in dict.fromkeys(r["arm"] for r in rows):
        mine = [r for r in rows if r["arm"] == arm and r["rc"] == 0]
        if not mine:
            out[arm] = {"runs": 0}
            continue
        wall = statistics.median(r["wall_s"] for r in mine)
        out[arm] = {
            "runs": len(mine),
            "median_wall_s": round(wall, 1),
            "median_per_host_s": round(wall / size, 2),
            "median_runner_cpu_s": round(statistics.median(r["runner_cpu_s"] for r in mine), 1),
            "median_fleet_cpu_s": round(statistics.median(r["fleet_cpu_s"] for r in mine), 1),
        }
    if "default" in out and "tuned" in out and out["tuned"].get("runs"):
        base, tuned = out["default"], out["tuned"]
        if base.get("runs"):
            out["speedup_tuned_vs_default"] = round(
                base["median_wall_s"] / tuned["median_wall_s"], 2
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50", help="fleet sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per arm and cycle")
    parser.add_argument("--arms", default="default,tuned", help=",".join(ARMS))
    parser.add_argument("--cycles", default="noop,changes")
    parser.add_argument("--memory-size", type=int, help="sample memory at this size (largest)")
    parser.add_argument(
        "--converge-arm", default="tuned", help="arm of the untimed run before the noop cycle"
    )
    parser.add_argument(
        "--noop-on-changed",
        action="store_true",
        help="with --cycles changes,noop: time the noop cycle on the fleet the last run with "
        "changes left compliant, instead of a new fleet and an untimed converge run",
    )
    parser.add_argument("--base-port", type=int, default=4200)
    parser.add_argument("--prefix", default=f"maint-bench-{os.getpid()}")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    arms = args.arms.split(",")
    for arm in arms:
        if arm not in ARMS:
            parser.error(f"--arms: unknown arm {arm!r} (one of {', '.join(ARMS)})")
    cycles = args.cycles.split(",")
    for cycle in cycles:
        if cycle not in ("noop", "changes"):
            parser.error(f"--cycles: unknown cycle {cycle!r} (noop, changes)")
    if args.noop_on_changed and cycles != ["changes", "noop"]:
        parser.error("--noop-on-changed needs --cycles changes,noop")
    memory_size = args.memory_size or max(sizes)
    report: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cpus": os.cpu_count(),
        "tuned_settings": tuning.runner_env(
            {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        ),
        "sizes": {},
    }
    work = Path(tempfile.mkdtemp(prefix="maint-bench-cycle-"))
    try:
        for size in sizes:
            per_size: dict[str, Any] = {}
            converged: Path | None = None
            for cycle in cycles:
                rows: list[dict[str, Any]] = []
                state = work / f"state-{size}-{cycle}"
                inventory = None
                if cycle == "noop" and converged is not None:
                    # The last run of the cycle with changes left its fleet compliant.
                    inventory = converged
                    print("  noop on the fleet the last run with changes left", file=sys.stderr)
                elif cycle == "noop":
                    inventory = fleet(size, args, "none", state)
                    warm = timed_run(args.converge_arm, inventory, work, args.prefix, False)
                    print(f"  converge run: {warm['wall_s']}s {warm['statuses']}", file=sys.stderr)
                for rep in range(args.runs):
                    order = arms if rep % 2 == 0 else list(reversed(arms))
                    for arm in order:
                        if cycle == "changes":
                            inventory = fleet(size, args, "outdated:all", state)
                        assert inventory is not None
                        row = timed_run(arm, inventory, work, args.prefix, size == memory_size)
                        row["rep"] = rep
                        rows.append(row)
                        print(f"  {size} {cycle} {arm} #{rep}: {json.dumps(row)}", file=sys.stderr)
                per_size[cycle] = {"runs": rows, "summary": summarize(rows, size)}
                keep = args.noop_on_changed and cycle == "changes" and rows[-1]["rc"] == 0
                converged = inventory if keep else None
                if not keep:
                    lab.down(args.prefix)
            report["sizes"][str(size)] = per_size
    finally:
        lab.down(args.prefix)
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for size, per_size in report["sizes"].items():
            for cycle, data in per_size.items():
                print(f"{size} hosts, {cycle}: {json.dumps(data['summary'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
