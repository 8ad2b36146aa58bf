"""Independent judges of the hardening role: Lynis and ssh-audit, before and after, on lab hosts.

    .venv/bin/python bench/judge.py                              # both hosts (make judge), as root
    .venv/bin/python bench/judge.py --hosts container --json out.json
    .venv/bin/python bench/judge.py --enforce --write docs/judges.md

For each host kind (``container``: a lab container, ``maint lab up``; ``vm``: the VM lab host,
``maint lab vm up``, a full Debian 12 with its own kernel and systemd), in parallel:

1. start the host with ``--no-fixture`` (apt reads the Debian mirror: the controls that install
   packages can succeed, as on a server with a mirror) and no seeded faults;
2. **Lynis** (the Debian package installed on this machine, copied to the host for the run and
   removed after it) as root over SSH: the hardening index, the tests done, the warnings and the
   suggestions; **ssh-audit** (pinned from PyPI in the ``test`` extra; Debian's 2.5.0 reports
   OpenSSH's Terrapin countermeasure ``kex-strict-s-v00@openssh.com`` as an unknown algorithm,
   a warning no configuration removes) from this machine against the host's sshd port: the
   lines marked ``[fail]`` and ``[warn]``;
3. the hardening role, ``maint run hardening -i STATE/hosts.yml`` (every control at its default);
4. Lynis and ssh-audit again, and the maintenance key must still log in with sudo.

Each figure is printed against its target (Lynis hardening index after the role: >= 85 on the VM
host, >= 80 on the container; ssh-audit after: no fail and no warn on both). A missed target
makes the exit status 1 only with ``--enforce``; a host that does not start, a judge that does
not run, a failed hardening run or a key that no longer logs in with sudo always do.
``--write FILE`` writes the figures as Markdown with the date and the command that reproduces
them (``make judge`` writes docs/judges.md).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KINDS = ("container", "vm")
TARGETS = {"container": 80, "vm": 85}
LABELS = {"container": "lab container", "vm": "VM lab host"}
STEPS = (
    "start",
    "lynis_before",
    "ssh_audit_before",
    "hardening",
    "lynis_after",
    "ssh_audit_after",
    "total",
)
# Where the Debian package puts Lynis on this machine, and where the copy goes on the host.
LYNIS_FILES = {
    "lynis": Path("/usr/sbin/lynis"),
    "include": Path("/usr/share/lynis/include"),
    "db": Path("/usr/share/lynis/db"),
    "plugins": Path("/etc/lynis/plugins"),
    "default.prf": Path("/etc/lynis/default.prf"),
}
REMOTE_DIR = "/var/tmp/maint-judge"
# Why each Lynis suggestion still open after the role is left, or the control that answers it
# where it should not remain. Keyed by test ID; the details column tells instances apart.
SUGGESTION_NOTES = {
    "LYNIS": "about Lynis itself (Debian's 3.0.8), not the host",
    "DEB-0810": "apt-listbugs: interactive, not for unattended windows",
    "DEB-0811": "apt-listchanges: mails changelogs, not for unattended windows",
    "DEB-0880": "BF-01 writes its jail to jail.local unless the site has its own jail.local",
    "BOOT-5180": "no init in a container: nothing to judge",
    "BOOT-5264": "per-service systemd sandboxing: beyond the role's controls",
    "KRNL-5788": "a container has no kernel of its own",
    "AUTH-9284": "locked system accounts are Debian's own; maint is key-only by design",
    "FILE-6310": "one file system on lab hosts: a disk layout decision, not a role control",
    "NAME-4028": "lab hosts have no DNS domain",
    "NAME-4404": "lab host names are not in /etc/hosts of the container",
    "PKGS-7392": "updates are the patching role's task, in a window",
    "PKGS-7394": "apt-show-versions: patching reads apt itself",
    "PKGS-7420": "updates are applied in approved windows, not automatically",
    "NETW-3200": "MOD-02 blocks dccp, sctp, rds and tipc ('install P /bin/true' + blacklist)",
    "SSH-7408": "sshd off port 22 is a site decision (firewalls, inventories), not a control",
    "LOGG-2130": "no init in a container: LOG-01 installs rsyslog, which runs where systemd does",
    "LOGG-2138": "no init in a container: no kernel logger runs there",
    "LOGG-2154": "remote logging: a site decision (the log host)",
    "ACCT-9622": "ACCT-01 (acct); the kernel of a container may refuse accounting",
    "ACCT-9626": "ACCT-01 (sysstat enabled)",
    "ACCT-9628": "AUD-01 installs auditd and its rules; a container cannot run the audit daemon",
    "TIME-3104": "a container takes its time from the machine's kernel",
    "FINT-4350": "FIM-01 (AIDE with an initialised database)",
    "FINT-4402": "FIM-01 sets Checksums = sha512 in aide.conf",
    "KRNL-6000": "container: /proc/sys is read-only (KERN-01/NET-01 persisted, KERN-02 not "
    "applicable); VM: kernel.modules_disabled is left out on purpose (no module loads until "
    "reboot)",
    "HRDN-7222": "CC-01 restricts as, ld, cc and gcc to root, also when this run installs them",
    "TOOL-5002": "automation tools: maint is one, Lynis does not know it",
    "FILE-7524": "file permissions Lynis's profile wants beyond PERM-* (see its log)",
    "HOME-9304": "home directory permissions (PERM-06)",
    "USB-1000": "MOD-03 blocks usb-storage ('install usb-storage /bin/true' + blacklist)",
    "STRG-1846": "MOD-03 blocks firewire-core",
    "SHLL-6220": "SHELL-01 (read-only TMOUT in profile.d)",
    "KRNL-5820": "CORE-01 (limits.d, ulimit -c 0, systemd-coredump Storage=none)",
    "BANN-7126": "BAN-01",
    "BANN-7130": "BAN-01",
}

_print_lock = threading.Lock()


def say(kind: str, message: str) -> None:
    with _print_lock:
        print(f"[{kind}] {message}", flush=True)


class JudgeError(Exception):
    """A judge could not run: the host did not start, Lynis failed, SSH did not answer."""


@dataclass
class Lynis:
    index: int
    tests_done: int
    warnings: list[str]
    suggestions: list[str]


@dataclass
class SshAudit:
    fail: list[str]
    warn: list[str]


@dataclass
class HostResult:
    kind: str
    name: str = ""
    port: int = 0
    accel: str = ""
    lynis_before: Lynis | None = None
    lynis_after: Lynis | None = None
    ssh_audit_before: SshAudit | None = None
    ssh_audit_after: SshAudit | None = None
    hardening_exit: int | None = None
    key_sudo_before: bool | None = None
    key_sudo_after: bool | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    error: str = ""


def parse_lynis_report(text: str) -> Lynis:
    """The figures of a Lynis report file (``key=value`` lines, ``key[]=`` for lists)."""
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {"warning": [], "suggestion": []}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key.endswith("[]"):
            lists.setdefault(key[:-2], []).append(value)
        else:
            values[key] = value
    if "hardening_index" not in values:
        raise JudgeError("the Lynis report has no hardening_index")
    return Lynis(
        index=int(values["hardening_index"]),
        tests_done=int(values.get("lynis_tests_done", "0")),
        warnings=lists["warning"],
        suggestions=lists["suggestion"],
    )


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_ssh_audit(text: str) -> SshAudit:
    """The lines ssh-audit marks ``[fail]`` and ``[warn]`` (an algorithm with two notes gives
    two lines: the second starts with a back-tick and names the algorithm of the line above)."""
    lines = _ANSI.sub("", text).splitlines()
    if not any(line.startswith("(gen) banner:") for line in lines):
        raise JudgeError("ssh-audit did not reach sshd: " + " | ".join(lines[-3:]))
    fail: list[str] = []
    warn: list[str] = []
    subject = ""
    for line in lines:
        if line.startswith("("):
            subject = line.split(" -- ")[0].strip()
        for tag, bucket in (("[fail]", fail), ("[warn]", warn)):
            if tag in line:
                note = line.split(tag, 1)[1].strip()
                bucket.append(f"{subject}: {note}")
    return SshAudit(fail=fail, warn=warn)


def lynis_tarball() -> bytes:
    """Lynis as a stand-alone tree (``lynis/``), owned by root as Lynis insists."""
    missing = [str(p) for p in LYNIS_FILES.values() if not p.exists()]
    if missing:
        raise JudgeError(f"Lynis is not installed here ({missing[0]}): apt-get install lynis")
    buf = io.BytesIO()

    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, path in LYNIS_FILES.items():
            tar.add(path, arcname=f"lynis/{name}", filter=as_root)
    return buf.getvalue()


class Host:
    """One lab host reached over SSH with the lab key, as the inventory names it."""

    def __init__(self, inventory: Path) -> None:
        data = yaml.safe_load(inventory.read_text())
        lab = data["all"]["children"]["lab"]
        (self.name, hostvars), *_ = lab["hosts"].items()
        self.port = int(hostvars["ansible_port"])
        self.key = lab["vars"]["ansible_ssh_private_key_file"]

    def ssh(
        self, command: str, *, stdin: bytes | None = None, timeout: float = 3600
    ) -> subprocess.CompletedProcess[bytes]:
        args = ["ssh", "-i", self.key, "-p", str(self.port), "-o", "BatchMode=yes"]
        args += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        args += ["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=30", "maint@127.0.0.1", command]
        return subprocess.run(args, input=stdin, capture_output=True, timeout=timeout, check=False)

    def key_sudo(self) -> bool:
        """The maintenance key logs in and sudo works without a password."""
        return self.ssh("sudo -n true", timeout=120).returncode == 0

    def lynis(self) -> Lynis:
        """Run Lynis as root on the host from a copy, read its report, remove the copy."""
        script = f"""set -e
d={REMOTE_DIR}
rm -rf "$d"; mkdir -m 0700 "$d"
tar -C "$d" -xzf -
cd "$d/lynis"
status=0
./lynis audit system --usecwd --quick --no-colors --logfile "$d/lynis.log" \
  --report-file "$d/report.dat" >"$d/out.txt" 2>&1 || status=$?
if [ ! -s "$d/report.dat" ]; then tail -n 5 "$d/out.txt" >&2; rm -rf "$d"; exit 1; fi
cat "$d/report.dat"
rm -rf "$d"
exit $status
"""
        proc = self.ssh(f"sudo sh -c {shlex.quote(script)}", stdin=lynis_tarball())
        if proc.returncode != 0 and b"hardening_index=" not in proc.stdout:
            raise JudgeError(f"Lynis failed on {self.name}: {proc.stderr.decode().strip()[-300:]}")
        return parse_lynis_report(proc.stdout.decode(errors="replace"))

    def ssh_audit(self) -> SshAudit:
        exe = BIN / "ssh-audit"
        if not exe.exists():
            raise JudgeError(f"{exe} is missing: pip install -e '.[test]'")
        proc = subprocess.run(
            [str(exe), "-n", "-p", str(self.port), "127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        return parse_ssh_audit(proc.stdout + proc.stderr)


def maint(*args: str, cwd: Path, timeout: float = 7200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "maint"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(kind: str, state: Path, port: int, prefix: str) -> None:
    if kind == "container":
        up = ["lab", "up", "-n", "1", "--prefix", prefix, "--base-port", str(port - 1)]
        up += ["--no-fixture", "--faults", "none", "--state", str(state)]
    else:
        up = ["lab", "vm", "up", "--prefix", f"{prefix}-vm", "--port", str(port)]
        up += ["--no-fixture", "--state", str(state)]
    proc = maint(*up, cwd=ROOT)
    if proc.returncode != 0:
        raise JudgeError(f"maint {' '.join(up[:3])}: {(proc.stderr or proc.stdout).strip()}")
    for line in proc.stdout.splitlines():
        say(kind, line)


def stop(kind: str, state: Path, prefix: str) -> None:
    if kind == "container":
        maint("lab", "down", "--prefix", prefix, cwd=ROOT)
    else:
        maint("lab", "vm", "down", "--state", str(state), cwd=ROOT)


def judge(kind: str, state: Path, port: int, prefix: str, keep: bool) -> HostResult:
    """Start the host, judge it before and after the hardening role; the figures and timings."""
    result = HostResult(kind)

    def timed(step: str, fn: Any) -> Any:
        began = time.monotonic()
        value = fn()
        result.seconds[step] = round(time.monotonic() - began, 1)
        say(kind, f"{step}: {result.seconds[step]:.0f}s")
        return value

    began = time.monotonic()
    try:
        timed("start", lambda: start(kind, state, port, prefix))
        host = Host(state / "hosts.yml")
        result.name, result.port = host.name, host.port
        if kind == "vm":
            result.accel = json.loads((state / "vm.json").read_text())["accel"]
        result.key_sudo_before = host.key_sudo()
        if not result.key_sudo_before:
            raise JudgeError(f"the maintenance key does not log in with sudo on {host.name}")
        result.lynis_before = timed("lynis_before", host.lynis)
        result.ssh_audit_before = timed("ssh_audit_before", host.ssh_audit)
        run = timed("hardening", lambda: maint("run", "hardening", "-i", "hosts.yml", cwd=state))
        (state / "hardening.txt").write_text(run.stdout + run.stderr)
        result.hardening_exit = run.returncode
        result.key_sudo_after = host.key_sudo()
        result.lynis_after = timed("lynis_after", host.lynis)
        result.ssh_audit_after = timed("ssh_audit_after", host.ssh_audit)
    except (JudgeError, OSError, subprocess.SubprocessError, KeyError, ValueError) as exc:
        result.error = str(exc)
        say(kind, f"error: {exc}")
    finally:
        result.seconds["total"] = round(time.monotonic() - began, 1)
        if not keep:
            stop(kind, state, prefix)
    return result


@dataclass(frozen=True)
class Verdict:
    kind: str
    figure: str
    value: str
    target: str
    met: bool
    hard: bool  # a broken judge or a lockout: fails the run without --enforce


def verdicts(result: HostResult) -> list[Verdict]:
    kind = result.kind
    out: list[Verdict] = []
    if result.error:
        out.append(Verdict(kind, "judge ran", result.error, "ran", False, True))
        return out
    before, after = result.lynis_before, result.lynis_after
    sa_after = result.ssh_audit_after
    assert before and after and sa_after
    target = TARGETS[kind]
    out.append(
        Verdict(
            kind,
            "Lynis hardening index",
            f"{before.index} -> {after.index}",
            f">= {target}",
            after.index >= target,
            False,
        )
    )
    out.append(
        Verdict(kind, "ssh-audit fail", str(len(sa_after.fail)), "0", not sa_after.fail, False)
    )
    out.append(
        Verdict(kind, "ssh-audit warn", str(len(sa_after.warn)), "0", not sa_after.warn, False)
    )
    out.append(
        Verdict(
            kind,
            "hardening run",
            f"exit {result.hardening_exit}",
            "exit 0",
            result.hardening_exit == 0,
            True,
        )
    )
    out.append(
        Verdict(
            kind,
            "key logs in with sudo after",
            "yes" if result.key_sudo_after else "no",
            "yes",
            bool(result.key_sudo_after),
            True,
        )
    )
    return out


def tool_versions() -> dict[str, str]:
    lynis = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "lynis"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    try:
        audit = metadata.version("ssh-audit")
    except metadata.PackageNotFoundError:
        audit = "?"
    return {"lynis": lynis or "?", "ssh-audit": audit}


def suggestion_rows(lynis: Lynis) -> list[str]:
    rows = []
    for raw in lynis.suggestions:
        test, text, details, *_ = [*raw.split("|"), "", "", ""]
        detail = "" if details in ("-", "") else f" ({details})"
        note = SUGGESTION_NOTES.get(test, "")
        rows.append(f"| {test} | {text}{detail} | {note} |")
    return rows


def markdown(
    results: list[HostResult], command: str, versions: dict[str, str], measured: datetime
) -> str:
    when = measured.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Independent judges of the hardening role",
        "",
        f"Measured {when} with `{command}` (as root; generated by bench/judge.py, do not edit).",
        f"Lynis {versions['lynis']} (Debian package, copied to the host for each run),",
        f"ssh-audit {versions['ssh-audit']} (PyPI, from the control node against the host's sshd).",
        "Hosts start with `--no-fixture` (apt reads the Debian mirror) and no seeded faults; the",
        "role runs with every control at its default (`maint run hardening -i STATE/hosts.yml`).",
        "The container judge also runs in `make test` (tests/lab/test_judge_container.py); the VM",
        "judge, too slow for it under software emulation, runs weekly (README, Tests).",
        "",
        "| host | Lynis before | Lynis after | target | suggestions before -> after | "
        "ssh-audit fail/warn before | after | key + sudo after | hardening run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        label = LABELS[r.kind] + (f" ({r.accel})" if r.accel else "")
        if r.error:
            lines.append(f"| {label} | not measured: {r.error} | | | | | | | |")
            continue
        assert r.lynis_before and r.lynis_after and r.ssh_audit_before and r.ssh_audit_after
        lines.append(
            f"| {label} | {r.lynis_before.index} | {r.lynis_after.index} | >= {TARGETS[r.kind]} "
            f"| {len(r.lynis_before.suggestions)} -> {len(r.lynis_after.suggestions)} "
            f"| {len(r.ssh_audit_before.fail)}/{len(r.ssh_audit_before.warn)} "
            f"| {len(r.ssh_audit_after.fail)}/{len(r.ssh_audit_after.warn)} (target 0/0) "
            f"| {'yes' if r.key_sudo_after else 'NO'} | exit {r.hardening_exit} |"
        )
    lines += ["", "Time per step (seconds):", "", "| host | " + " | ".join(STEPS) + " |"]
    lines.append("|---" * (len(STEPS) + 1) + "|")
    for r in results:
        cells = [f"{r.seconds[s]:.0f}" if s in r.seconds else "-" for s in STEPS]
        lines.append(f"| {LABELS[r.kind]} | " + " | ".join(cells) + " |")
    for r in results:
        if r.error or not r.lynis_after or not r.ssh_audit_after:
            continue
        lines += ["", f"## {LABELS[r.kind]}: what the judges still report after the role", ""]
        lines += [f"Lynis warnings: {len(r.lynis_after.warnings)}"]
        lines += [f"- {w.split('|')[0]}: {w.split('|')[1]}" for w in r.lynis_after.warnings]
        lines += ["", "| Lynis test | suggestion | waiting for / why left |", "|---|---|---|"]
        lines += suggestion_rows(r.lynis_after)
        lines += ["", "ssh-audit:", ""]
        lines += [f"- fail: {x}" for x in r.ssh_audit_after.fail]
        lines += [f"- warn: {x}" for x in r.ssh_audit_after.warn]
        if not (r.ssh_audit_after.fail or r.ssh_audit_after.warn):
            lines.append("- no fail, no warn")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="container,vm", help="container, vm or both")
    parser.add_argument("--port", type=int, default=4600, help="container port; the VM's + 50")
    parser.add_argument("--prefix", default="maint-judge", help="lab host names (VM: PREFIX-vm)")
    parser.add_argument("--state", type=Path, default=ROOT / ".maint" / "judge")
    parser.add_argument("--enforce", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--keep", action="store_true", help="leave the hosts running")
    parser.add_argument("--json", type=Path, help="write the results as JSON")
    parser.add_argument("--write", type=Path, help="write the figures as Markdown (docs)")
    parser.add_argument(
        "--from-json", type=Path, help="judge nothing: report what an earlier --json recorded"
    )
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.hosts.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        parser.error(f"--hosts: {', '.join(unknown) or 'none'}; choose from {', '.join(KINDS)}")
    if os.geteuid() != 0 and not args.from_json:
        print("judge: must run as root (rootful Podman, qemu)", file=sys.stderr)
        return 2
    if shutil.which("ssh") is None:
        print("judge: ssh is missing (apt-get install openssh-client)", file=sys.stderr)
        return 2
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        results = [result_from_dict(r) for r in saved["results"]]
        measured = datetime.fromisoformat(saved["measured"])
        command, versions = saved["command"], saved["versions"]
    else:
        ports = {"container": args.port, "vm": args.port + 50}
        states = {k: (args.state / k).resolve() for k in kinds}
        for state in states.values():
            state.mkdir(parents=True, exist_ok=True)
        measured = datetime.now(UTC)
        with ThreadPoolExecutor(max_workers=len(kinds)) as pool:
            futures = [
                pool.submit(judge, k, states[k], ports[k], args.prefix, args.keep) for k in kinds
            ]
            results = [f.result() for f in futures]
        command = "make judge" if kinds == list(KINDS) else f"bench/judge.py --hosts {args.hosts}"
        versions = tool_versions()

    all_verdicts = [v for r in results for v in verdicts(r)]
    print()
    for v in all_verdicts:
        mark = "ok  " if v.met else ("FAIL" if v.hard or args.enforce else "miss")
        print(f"{mark} {LABELS[v.kind]:14} {v.figure:28} {v.value:>10}   target {v.target}")
    for r in results:
        took = ", ".join(f"{k} {v:.0f}s" for k, v in r.seconds.items())
        print(f"     {LABELS[r.kind]:14} time: {took}")
    if args.json:
        saved = {
            "measured": measured.isoformat(),
            "command": command,
            "versions": versions,
            "targets": TARGETS,
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(saved, indent=2) + "\n")
    if args.write:
        args.write.write_text(markdown(results, command, versions, measured))
        print(f"written: {args.write}")
    return exit_status(all_verdicts, args.enforce)


def result_from_dict(data: dict[str, Any]) -> HostResult:
    """A HostResult as ``--json`` wrote it."""
    fields = dict(data)
    for key in ("lynis_before", "lynis_after"):
        fields[key] = Lynis(**data[key]) if data.get(key) else None
    for key in ("ssh_audit_before", "ssh_audit_after"):
        fields[key] = SshAudit(**data[key]) if data.get(key) else None
    return HostResult(**fields)


def exit_status(judged: list[Verdict], enforce: bool) -> int:
    """1 when a judge did not run, the role failed or the key lost sudo; a missed target
    only with ``enforce``; else 0."""
    if any(not v.met and v.hard for v in judged):
        return 1
    if enforce and any(not v.met for v in judged):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
