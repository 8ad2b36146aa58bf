"""Fleet lab benchmark: how long ``maint lab up`` and ``maint lab down`` take, and the memory used.

    .venv/bin/python bench/lab_fleet.py --sizes 10,50,200 --json          # as root, image built

For each size: ``lab up`` (seed, fixture repository, containers started in parallel, sshd
awaited on every port, faults planted) with the faults given (default ``outdated:all``, what
``maint lab up`` does by default), then the memory the idle fleet uses, then ``lab down``.
Memory: the sum over the fleet's containers of their cgroup's resident memory (``rss`` of
memory.stat: anonymous memory, not the shared page cache of the image) and of the
``conmon`` monitor process of each container, and the machine's used memory (``MemTotal -
MemAvailable``) before ``up`` and after it (other work on the machine moves that figure).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cycle import container_ids  # noqa: E402  (bench/cycle.py, beside this script)

from maintenance_runner.lab import fleet as lab  # noqa: E402

MEMORY_ROOT = Path("/sys/fs/cgroup/memory/libpod_parent")


def used_mib() -> float:
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, value = line.split(":", 1)
        info[key] = int(value.split()[0])
    return (info["MemTotal"] - info["MemAvailable"]) / 1024


def fleet_memory(prefix: str) -> dict[str, float]:
    ids = container_ids(prefix)
    rss = 0
    for cid in ids:
        stat = MEMORY_ROOT / f"libpod-{cid}" / "memory.stat"
        if stat.is_file():
            fields = dict(line.split() for line in stat.read_text().splitlines())
            rss += int(fields.get("total_rss", fields.get("rss", 0)))
    conmon = 0
    short = {cid[:12] for cid in ids}
    for proc in psutil.process_iter(["name", "cmdline", "memory_info"]):
        if proc.info["name"] != "conmon":
            continue
        cmdline = " ".join(proc.info["cmdline"] or [])
        if any(s in cmdline for s in short):
            conmon += proc.info["memory_info"].rss
    return {
        "containers": len(ids),
        "containers_rss_mib": round(rss / 2**20, 1),
        "conmon_rss_mib": round(conmon / 2**20, 1),
        "per_host_mib": round((rss + conmon) / 2**20 / max(1, len(ids)), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,200")
    parser.add_argument("--faults", default=lab.DEFAULT_FAULTS)
    parser.add_argument("--workers", type=int, default=lab.DEFAULT_WORKERS)
    parser.add_argument("--base-port", type=int, default=4600)
    parser.add_argument("--prefix", default=f"maint-bench-lab-{os.getpid()}")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="maint-bench-lab-") as tmp:
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                before = used_mib()
                load = os.getloadavg()[0]
                started = time.monotonic()
                lab.up(
                    size,
                    args.base_port,
                    args.prefix,
                    True,
                    Path(tmp) / f"state-{size}",
                    args.faults,
                    args.workers,
                    echo=lambda _line: None,
                )
                up_s = time.monotonic() - started
                time.sleep(5)  # let the hosts settle (apt, the fixture daemon)
                memory = fleet_memory(args.prefix)
                after = used_mib()
                started = time.monotonic()
                removed = lab.down(args.prefix)
                down_s = time.monotonic() - started
                row = {
                    "size": size,
                    "workers": args.workers,
                    "faults": args.faults,
                    "up_s": round(up_s, 1),
                    "down_s": round(down_s, 1),
                    "removed": removed,
                    **memory,
                    "machine_used_before_mib": round(before),
                    "machine_used_after_up_mib": round(after),
                    "load_before": round(load, 2),
                }
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
        finally:
            lab.down(args.prefix)
    if args.json:
        json.dump({"command": " ".join(sys.argv), "rows": rows}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for row in rows:
            print(
                f"{row['size']:>4} hosts: up {row['up_s']}s, down {row['down_s']}s,"
                f" {row['per_host_mib']} MiB per host"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
