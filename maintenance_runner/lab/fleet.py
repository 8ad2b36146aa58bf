"""The lab fleet: lab hosts (Podman containers running sshd on loopback ports).

Each lab host is a container of the lab image started with ``--network host``, running
``sshd -p PORT -o ListenAddress=127.0.0.1``: a real SSH fleet on one machine. Before sshd starts,
``lab/fleet/setup.sh`` gives the host its baseline (see that script): the maintenance account
``maint`` logs in with a key generated for the lab and has passwordless sudo; with ``--fixture``
apt reads only the fixture repository; a restic repository with a fresh snapshot; fresh ClamAV
databases; root login over SSH disabled. ``--faults`` then plants seeded faults with the scripts
in ``lab/fleet/faults/`` (``maintenance_runner.lab.faults``) and records them in
``STATE/faults.json``. Containers start in parallel (bounded), sshd is awaited on every port at
once. Needs root, Podman and the lab image (``make lab-image``; ``MAINT_LAB_IMAGE`` names
another image repository); lab commands work from a source checkout, where lab/ lives.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from maintenance_runner.ansible.collection import source_root
from maintenance_runner.errors import InputError, MaintError
from maintenance_runner.lab import faults as lab_faults
from maintenance_runner.lab.faults import Fault, FaultSpecError

LABEL = "maint.lab=1"
# Per host: enough for sshd, an Ansible module run, apt, restic and clamscan at once, and a cap
# that keeps one runaway host from taking the machine; 200 idle hosts use about 2 GiB in total.
PIDS_LIMIT = 256
MEMORY_LIMIT = "512m"
# Parallel podman calls: podman serialises part of each call itself; beyond this, no gain.
DEFAULT_WORKERS = 8
DEFAULT_FAULTS = "outdated:all"

T = TypeVar("T")


def image() -> str:
    """The lab image: ``$MAINT_LAB_IMAGE:latest`` (default localhost/maint-lab), as built."""
    return os.environ.get("MAINT_LAB_IMAGE", "localhost/maint-lab") + ":latest"


class LabError(MaintError):
    """A lab prerequisite is missing or a lab command failed."""


class LabInputError(InputError):
    """Bad input to a lab command (a fault spec): one line, exit code 2, nothing started."""


@dataclass(frozen=True)
class LabHost:
    name: str
    port: int
    faults: tuple[Fault, ...] = ()


def _podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise LabError(f"podman {' '.join(args[:2])}: {proc.stderr.strip() or proc.stdout}")
    return proc


def require_lab() -> Path:
    if shutil.which("podman") is None:
        raise LabError("podman is not installed (apt-get install podman runc)")
    if _podman("image", "exists", image(), check=False).returncode != 0:
        raise LabError(f"the lab image {image()} is missing: run 'make lab-image' (as root)")
    root = source_root()
    if root is None:
        raise LabError("maint lab needs a source checkout (lab/ is not installed with the wheel)")
    return root


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def ssh_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def _parallel(fn: Callable[[T], object], items: Sequence[T], workers: int) -> list[str]:
    """Run fn over items with at most ``workers`` at once; the errors, one line each."""
    errors: list[str] = []

    def guarded(item: T) -> None:
        try:
            fn(item)
        except (LabError, OSError, subprocess.SubprocessError) as exc:
            errors.append(str(getattr(exc, "message", exc)))

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        list(pool.map(guarded, items))
    return errors


def _raise_errors(what: str, errors: list[str]) -> None:
    if errors:
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise LabError(f"{what}: " + "; ".join(sorted(errors)[:3]) + more)


def lab_key(state: Path) -> Path:
    """The lab's SSH key pair (created once)."""
    key = state / "id_ed25519"
    if not key.exists():
        state.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "maint-lab", "-f", str(key)],
            check=True,
        )
    return key


def key_fingerprint(pub: Path) -> str:
    """SHA256 fingerprint of a public key file, as access_review reports it."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()[1]


def build_seed(root: Path, seed: Path) -> None:
    """Build the hosts' seed (backup repositories, data, ClamAV databases) in one container."""
    seed.mkdir(parents=True, exist_ok=True)
    proc = _podman(
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        f"{root / 'lab' / 'fleet'}:/srv/maint-lab:ro",
        "-v",
        f"{seed}:/out",
        image(),
        "sh",
        "/srv/maint-lab/seed.sh",
        "/out",
        check=False,
    )
    if proc.returncode != 0:
        raise LabError(f"building the lab seed failed: {proc.stderr.strip()[-500:]}")


@dataclass(frozen=True)
class LabFiles:
    """What every lab host reads at start: where it is found on the host (target -> source),
    and which parts the seed has (``fixture``, ``backup``, ``clamav``)."""

    mounts: dict[str, Path]
    features: dict[str, bool]


def prepare_files(root: Path, state: Path, fixture: bool) -> LabFiles:
    """Build, in ``state``, what lab hosts start from (containers and the VM host alike): the
    fixture apt repository (with ``fixture``) and the seed; ``lab/fleet`` is read in place."""
    mounts = {"/srv/maint-lab": root / "lab" / "fleet", "/srv/maint-seed": state / "seed"}
    if fixture:
        mounts["/srv/maint-fixture"] = state / "fixture-repo"
        subprocess.run(
            [
                sys.executable,
                str(root / "lab" / "fixture_repo.py"),
                str(mounts["/srv/maint-fixture"]),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    seed = state / "seed"
    build_seed(root, seed)
    features = {"fixture": fixture, "backup": (seed / "backup").is_dir()}
    features["clamav"] = (seed / "clamav").is_dir()
    return LabFiles(mounts, features)


def fixture_mode(host: LabHost, fixture: bool) -> str:
    """MAINT_LAB_FIXTURE for setup.sh: the fault outdated installs the old versions itself."""
    if not fixture:
        return "none"
    return "sources" if any(f.name == "outdated" for f in host.faults) else "latest"


def run_args(
    host: LabHost, pubkey: str, mounts: dict[str, Path], fixture: bool, prefix: str
) -> list[str]:
    """``podman run`` arguments of one lab host: setup.sh, then sshd as the first process."""
    args = ["run", "-d", "--name", host.name, "--hostname", host.name, "--network", "host"]
    args += ["--label", LABEL, "--label", f"maint.lab.port={host.port}"]
    args += ["--label", f"maint.lab.prefix={prefix}"]
    args += ["--pids-limit", str(PIDS_LIMIT), "--memory", MEMORY_LIMIT]
    args += ["--memory-swap", MEMORY_LIMIT, "--log-opt", "max-size=1mb"]
    for target, source in mounts.items():
        args += ["-v", f"{source}:{target}:ro"]
    args += ["-e", f"MAINT_LAB_PUBKEY={pubkey}"]
    args += ["-e", f"MAINT_LAB_FIXTURE={fixture_mode(host, fixture)}"]
    sshd = f"exec /usr/sbin/sshd -D -e -p {host.port} -o ListenAddress=127.0.0.1"
    args += [image(), "sh", "-c", f"sh /srv/maint-lab/setup.sh && {sshd}"]
    return args


def fault_command(faults: Iterable[Fault]) -> list[str]:
    """The ``podman exec`` command that plants faults in order, naming the one that fails."""
    loop = (
        'for s in "$@"; do sh "/srv/maint-lab/$s" || '
        '{ echo "fault script $s failed" >&2; exit 1; }; done'
    )
    return ["sh", "-c", loop, "sh", *(f.script for f in faults)]


def _wait_fleet(hosts: Sequence[LabHost], prefix: str, timeout: float) -> None:
    """Wait until sshd answers on every port; fail early when a container has exited."""
    waiting = {h.port: h for h in hosts}
    deadline = time.monotonic() + timeout
    next_exit_check = time.monotonic() + 2
    with ThreadPoolExecutor(max_workers=min(32, len(hosts))) as pool:
        while waiting:
            ports = list(waiting)
            for port, up in zip(ports, pool.map(ssh_answers, ports), strict=True):
                if up:
                    del waiting[port]
            if not waiting:
                return
            now = time.monotonic()
            if now >= next_exit_check:
                next_exit_check = now + 2
                exited = _podman(
                    "ps",
                    "-a",
                    "--filter",
                    f"label=maint.lab.prefix={prefix}",
                    "--filter",
                    "status=exited",
                    "--format",
                    "{{.Names}}",
                    check=False,
                ).stdout.split()
                dead = [h.name for h in waiting.values() if h.name in exited]
                if dead:
                    logs = _podman("logs", "--tail", "5", dead[0], check=False)
                    raise LabError(
                        f"lab host {dead[0]} stopped during setup"
                        f"{f' (and {len(dead) - 1} more)' if len(dead) > 1 else ''}: "
                        + (logs.stderr + logs.stdout).strip().replace("\n", " | ")[-500:]
                    )
            if now >= deadline:
                names = ", ".join(sorted(h.name for h in waiting.values())[:5])
                raise LabError(f"sshd did not answer within {timeout:.0f}s on: {names}")
            time.sleep(0.5)


def inventory(
    hosts: Sequence[LabHost], key: Path, fixture: bool, role_vars: dict[str, object] | None = None
) -> dict[str, object]:
    host_vars = {h.name: {"ansible_host": "127.0.0.1", "ansible_port": h.port} for h in hosts}
    group_vars: dict[str, object] = {
        "ansible_user": "maint",
        "ansible_become": True,
        "ansible_ssh_private_key_file": str(key),
        # Lab hosts get new host keys every time they start. Ansible's ssh plugin takes this from
        # the common args; mitogen's puts its own StrictHostKeyChecking first, from this setting.
        "ansible_host_key_checking": False,
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    if fixture:
        group_vars["patching_services"] = ["maint-fixture"]
        group_vars["patching_post_check_commands"] = ["/usr/bin/maint-fixture check"]
    group_vars.update(role_vars or {})
    return {"all": {"children": {"lab": {"hosts": host_vars, "vars": group_vars}}}}


def parse_faults(value: str, count: int, fixture: bool) -> dict[int, tuple[Fault, ...]]:
    """--faults as given: the inline syntax, ``@FILE`` or an existing .yml/.yaml path."""
    path = None
    if value.startswith("@"):
        path = Path(value[1:])
    elif value.endswith((".yml", ".yaml")) and Path(value).is_file():
        path = Path(value)
    try:
        if path is None:
            assignment = lab_faults.parse_spec(value, count)
        else:
            try:
                data = yaml.safe_load(path.read_text())
            except (OSError, yaml.YAMLError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc)
                raise FaultSpecError(f"{path}: {first}") from None
            assignment = lab_faults.parse_mapping(data, count, str(path))
        # Only the fixture is known before the seed is built; restic and ClamAV are checked then.
        offered = ["backup", "clamav", *(["fixture"] if fixture else [])]
        lab_faults.check_needs(assignment, offered)
    except FaultSpecError as exc:
        raise LabInputError(str(exc)) from None
    return assignment


def up(
    count: int,
    base_port: int,
    prefix: str,
    fixture: bool,
    state: Path,
    faults: str = DEFAULT_FAULTS,
    workers: int = DEFAULT_WORKERS,
    echo: Callable[[str], None] = print,
) -> list[LabHost]:
    """Start a fleet of ``count`` lab hosts with seeded faults; write its inventory."""
    assignment = parse_faults(faults, count, fixture)  # bad input: nothing is started
    root = require_lab()
    state = state.resolve()
    key = lab_key(state)
    pubkey = key.with_suffix(".pub").read_text().strip()
    hosts = [
        LabHost(f"{prefix}-{i}", base_port + i, assignment.get(i, ())) for i in range(1, count + 1)
    ]
    names = {h.name for h in hosts}
    existing = [
        n for n in _podman("ps", "-a", "--format", "{{.Names}}").stdout.split() if n in names
    ]
    if existing:
        _podman("rm", "-f", "-t", "0", *existing)
    busy = [str(h.port) for h in hosts if not port_free(h.port)]
    if busy:
        raise LabError(f"port(s) {', '.join(busy[:5])} already in use; pick another --base-port")

    started = time.monotonic()
    files = prepare_files(root, state, fixture)
    mounts = files.mounts
    features = files.features
    try:
        lab_faults.check_needs(assignment, [k for k, v in features.items() if v])
    except FaultSpecError as exc:
        raise LabError(f"{exc} (image {image()})") from None

    def start(host: LabHost) -> None:
        _podman(*run_args(host, pubkey, mounts, fixture, prefix))

    _raise_errors("starting lab hosts", _parallel(start, hosts, workers))
    _wait_fleet(hosts, prefix, timeout=60 + 1.5 * count)

    def plant(host: LabHost) -> None:
        proc = _podman("exec", host.name, *fault_command(host.faults), check=False)
        if proc.returncode != 0:
            raise LabError(f"{host.name}: {proc.stderr.strip()[-300:]}")

    faulty = [h for h in hosts if h.faults]
    _raise_errors("planting faults", _parallel(plant, faulty, workers))

    role_vars = lab_faults.role_vars(
        key_fingerprint(key.with_suffix(".pub")), features["backup"], features["clamav"]
    )
    inv = state / "hosts.yml"
    inv.write_text(yaml.safe_dump(inventory(hosts, key, fixture, role_vars), sort_keys=False))
    record = lab_faults.faults_record([h.name for h in hosts], assignment)
    (state / "faults.json").write_text(json.dumps(record, indent=2) + "\n")
    for host in hosts:
        planted = ", ".join(f.name for f in host.faults)
        echo(
            f"{host.name}: ssh -p {host.port} maint@127.0.0.1"
            + (f"  [{planted}]" if planted else "")
        )
    echo(f"inventory: {inv}")
    echo(f"faults: {state / 'faults.json'}")
    echo(f"{count} lab host(s) up in {time.monotonic() - started:.1f}s")
    return hosts


def down(prefix: str | None) -> int:
    """Remove the lab hosts (all, or those of one prefix) in one podman call; how many."""
    if shutil.which("podman") is None:
        raise LabError("podman is not installed")
    label = f"maint.lab.prefix={prefix}" if prefix else LABEL
    names = _podman("ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}").stdout
    names_list = names.split()
    if names_list:
        _podman("rm", "-f", "-t", "0", *names_list)
    return len(names_list)


def status() -> str:
    """One line per lab host: its name, state and SSH port."""
    out = _podman(
        "ps",
        "-a",
        "--filter",
        f"label={LABEL}",
        "--format",
        '{{.Names}} {{.Status}} port={{index .Labels "maint.lab.port"}}',
    ).stdout
    return out.rstrip()
