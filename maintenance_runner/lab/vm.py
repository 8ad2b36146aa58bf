"""The lab VM host: one full Debian 12 host under qemu, for what containers cannot show.

A lab container shares the machine's kernel, has no init, a read-only ``/proc/sys`` and no
partitions of its own; kernel and boot controls cannot be judged there. The VM host boots its own
kernel (Debian's ``linux-image-amd64``) with systemd as init from a disk image built by
``lab/build-vm-image.sh`` from the lab container image (the same debootstrap recipe), cached by a
hash of the recipe. Every ``up`` starts from that image afresh: the VM writes to an overlay disk
in STATE, dropped by ``down``.

The VM reaches the lab through qemu's user-mode networking (sshd on ``127.0.0.1:PORT`` of this
machine, forwarded to the guest's port 22; the guest reaches the Debian mirror through it) and
virtio 9p shares: the boot unit ``lab/vm/maint-lab-boot`` runs the container lab's own
``lab/fleet/setup.sh`` with the lab key and the fixture apt repository (``--fixture``), so the VM
starts in the same good order as a lab container and ``STATE/hosts.yml`` is written like the
container lab's: every maint command works on it unchanged.

KVM is used when it answers (a guest kernel must print within seconds: ``/dev/kvm`` can be
present without working); otherwise qemu emulates the CPU (TCG): slower, but a full host.
Needs root, qemu (``qemu-system-x86``, ``qemu-utils``), Podman and the lab image (the seed is
built with it) and the VM image (``make lab-vm-image``).
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from maintenance_runner.lab import faults as lab_faults
from maintenance_runner.lab.fleet import (
    LabError,
    LabHost,
    LabInputError,
    inventory,
    key_fingerprint,
    lab_key,
    port_free,
    prepare_files,
    require_lab,
    ssh_answers,
)

QEMU = "qemu-system-x86_64"
DEFAULT_PREFIX = "maint-lab-vm"
DEFAULT_PORT = 2300
DEFAULT_STATE = ".maint/lab-vm"
DEFAULT_MEMORY_MB = 2048
DEFAULT_CPUS = 2
# Under emulation (TCG) on two CPUs the host boots to sshd in about a minute; leave room for a
# loaded machine.
BOOT_TIMEOUT = 900.0
KVM_PROBE_SECONDS = 15.0
CONNECT_TIMEOUT = 120
ACCELS = ("auto", "kvm", "tcg")
# A host name (RFC 1123 label): it names the VM, its inventory entry and its hostname.
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# virtio 9p mount tags (lab/vm/maint-lab-boot) -> the host's lab files (fleet.prepare_files).
SHARES = {
    "maint-lab": "/srv/maint-lab",
    "maint-seed": "/srv/maint-seed",
    "maint-fixture": "/srv/maint-fixture",
}


@dataclass(frozen=True)
class VmImage:
    """A built VM image: its directory with ``disk.qcow2``, ``vmlinuz`` and ``initrd.img``."""

    path: Path

    @property
    def disk(self) -> Path:
        return self.path / "disk.qcow2"

    @property
    def kernel(self) -> Path:
        return self.path / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.path / "initrd.img"


@dataclass(frozen=True)
class VmHost:
    """A running VM host, as recorded in ``STATE/vm.json``."""

    name: str
    port: int
    pid: int
    accel: str
    image: str
    fixture: bool
    boot_seconds: float


def image_dir(root: Path) -> Path:
    """Where the VM image of the current recipe is (built or not)."""
    proc = subprocess.run(
        [str(root / "lab" / "build-vm-image.sh"), "--print-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise LabError(f"lab/build-vm-image.sh --print-dir: {proc.stderr.strip()}")
    return Path(proc.stdout.strip())


def require_vm() -> tuple[Path, VmImage]:
    """The checkout and the built VM image; a LabError naming what is missing otherwise."""
    if os.geteuid() != 0:
        raise LabError("maint lab vm needs root (the seed is built with rootful Podman)")
    if shutil.which(QEMU) is None or shutil.which("qemu-img") is None:
        raise LabError(f"{QEMU} is not installed (apt-get install qemu-system-x86 qemu-utils)")
    root = require_lab()
    image = VmImage(image_dir(root))
    if not image.disk.is_file():
        raise LabError(f"the lab VM image {image.path.name} is missing: run 'make lab-vm-image'")
    return root, image


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise LabInputError(
            f"--prefix {name!r}: a host name is wanted (lower-case letters, digits and '-', "
            "at most 63, not starting or ending with '-')"
        )
    return name


def kvm_answers(image: VmImage, timeout: float = KVM_PROBE_SECONDS) -> tuple[bool, str]:
    """Try KVM: boot the image's kernel with ``-accel kvm`` and wait for its first line.

    ``/dev/kvm`` may accept a VM and never run it (nested virtualisation without the CPU's
    support): only a kernel that prints proves KVM works. Returns (works, why).
    """
    if not os.path.exists("/dev/kvm"):
        return False, "no /dev/kvm"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is not readable and writable"
    args = [QEMU, "-accel", "kvm", "-machine", "q35", "-cpu", "host", "-m", "256"]
    args += ["-display", "none", "-nodefaults", "-no-reboot", "-serial", "stdio"]
    args += ["-kernel", str(image.kernel), "-append", "earlyprintk=ttyS0 console=ttyS0 panic=-1"]
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and b"Linux version" not in seen:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    if b"Linux version" in seen:
        return True, "KVM answers"
    text = seen.decode(errors="replace").strip().splitlines()
    why = text[-1] if text and proc.returncode not in (0, -signal.SIGKILL) else ""
    return False, (
        f"/dev/kvm is present but a guest kernel printed nothing within {timeout:.0f}s"
        + (f" ({why})" if why else "")
    )


def choose_accel(requested: str, image: VmImage, echo: Callable[[str], None]) -> str:
    """``kvm`` or ``tcg``: as requested, or KVM when it answers (``auto``)."""
    if requested not in ACCELS:
        raise LabInputError(f"--accel {requested!r}: one of {', '.join(ACCELS)}")
    if requested == "tcg":
        return "tcg"
    works, why = kvm_answers(image)
    if works:
        return "kvm"
    if requested == "kvm":
        raise LabError(f"--accel kvm: {why}")
    echo(f"accel: tcg (software emulation; {why})")
    return "tcg"


def qemu_args(
    *,
    name: str,
    port: int,
    image: VmImage,
    state: Path,
    shares: dict[str, Path],
    accel: str,
    memory_mb: int = DEFAULT_MEMORY_MB,
    cpus: int = DEFAULT_CPUS,
) -> list[str]:
    """The qemu command line of the VM host (daemonized; pid, console and overlay in STATE)."""
    args = [QEMU, "-name", f"{name},process={name}", "-machine", "q35"]
    args += ["-accel", accel, "-cpu", "host" if accel == "kvm" else "max"]
    args += ["-smp", str(cpus), "-m", str(memory_mb)]
    args += ["-kernel", str(image.kernel), "-initrd", str(image.initrd)]
    args += ["-append", "root=LABEL=maint-root rw console=ttyS0"]
    args += ["-drive", f"file={state / 'disk.qcow2'},if=virtio,format=qcow2,discard=unmap"]
    args += ["-netdev", f"user,id=lab,hostfwd=tcp:127.0.0.1:{port}-:22"]
    args += ["-device", "virtio-net-pci,netdev=lab", "-device", "virtio-rng-pci"]
    for tag, path in {"maint-env": state / "env", **shares}.items():
        args += ["-virtfs", f"local,path={path},mount_tag={tag},security_model=none,readonly=on"]
    args += ["-display", "none", "-serial", f"file:{state / 'console.log'}"]
    args += ["-daemonize", "-pidfile", str(state / "qemu.pid")]
    return args


def _env_file(pubkey: str, fixture: bool, name: str) -> str:
    """``env`` read by the VM's boot unit: the values lab/fleet/setup.sh takes."""
    mode = "latest" if fixture else "none"
    quoted = pubkey.replace("'", "")
    return f"MAINT_LAB_PUBKEY='{quoted}'\nMAINT_LAB_FIXTURE={mode}\nMAINT_LAB_HOSTNAME={name}\n"


def _running_pid(state: Path) -> int | None:
    """The pid of this state's qemu, if it runs (checked against its command line)."""
    try:
        pid = int((state / "qemu.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(state / "disk.qcow2").encode() in b" ".join(cmdline) else None


def _console_tail(state: Path, lines: int = 5) -> str:
    try:
        text = (state / "console.log").read_text(errors="replace")
    except OSError:
        return "(no console output)"
    tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail)[-500:]


def _wait_ssh(state: Path, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ssh_answers(port):
        if _running_pid(state) is None:
            raise LabError(f"the VM stopped while booting: {_console_tail(state)}")
        if time.monotonic() >= deadline:
            raise LabError(
                f"sshd did not answer on port {port} within {timeout:.0f}s: {_console_tail(state)}"
            )
        time.sleep(2)


def up(
    port: int = DEFAULT_PORT,
    prefix: str = DEFAULT_PREFIX,
    fixture: bool = True,
    state: Path = Path(DEFAULT_STATE),
    accel: str = "auto",
    memory_mb: int = DEFAULT_MEMORY_MB,
    cpus: int = DEFAULT_CPUS,
    boot_timeout: float = BOOT_TIMEOUT,
    echo: Callable[[str], None] = print,
) -> VmHost:
    """Boot the VM host afresh from the cached image; write ``STATE/hosts.yml``."""
    name = check_name(prefix)
    if accel not in ACCELS:
        raise LabInputError(f"--accel {accel!r}: one of {', '.join(ACCELS)}")
    root, image = require_vm()
    state = state.resolve()
    down(state)
    if not port_free(port):
        raise LabError(f"port {port} is already in use; pick another --port")
    started = time.monotonic()
    key = lab_key(state)
    pubkey = key.with_suffix(".pub").read_text().strip()
    files = prepare_files(root, state, fixture)
    shares = {tag: files.mounts[target] for tag, target in SHARES.items() if target in files.mounts}
    env = state / "env"
    env.mkdir(exist_ok=True)
    (env / "env").write_text(_env_file(pubkey, fixture, name))
    chosen = choose_accel(accel, image, echo)

    overlay = state / "disk.qcow2"
    overlay.unlink(missing_ok=True)
    backing = ["-b", str(image.disk), "-F", "qcow2"]
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", *backing, str(overlay)], check=True)
    (state / "console.log").unlink(missing_ok=True)
    args = qemu_args(
        name=name,
        port=port,
        image=image,
        state=state,
        shares=shares,
        accel=chosen,
        memory_mb=memory_mb,
        cpus=cpus,
    )
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LabError(f"{QEMU}: {(proc.stderr or proc.stdout).strip()[-500:]}")
    echo(f"{name}: booting ({chosen}), console in {state / 'console.log'}")
    _wait_ssh(state, port, boot_timeout)
    pid = _running_pid(state)
    if pid is None:
        raise LabError(f"the VM stopped after sshd answered: {_console_tail(state)}")

    host = LabHost(name, port)
    role_vars = lab_faults.role_vars(
        key_fingerprint(key.with_suffix(".pub")), files.features["backup"], files.features["clamav"]
    )
    inv = state / "hosts.yml"
    # Emulated, the VM can take longer than Ansible's 10 s to answer a connection.
    role_vars = {"ansible_timeout": CONNECT_TIMEOUT, **role_vars}
    inv.write_text(yaml.safe_dump(inventory([host], key, fixture, role_vars), sort_keys=False))
    vm = VmHost(
        name=name,
        port=port,
        pid=pid,
        accel=chosen,
        image=image.path.name,
        fixture=fixture,
        boot_seconds=round(time.monotonic() - started, 1),
    )
    (state / "vm.json").write_text(json.dumps(asdict(vm), indent=2) + "\n")
    echo(f"{name}: ssh -p {port} maint@127.0.0.1")
    echo(f"inventory: {inv}")
    echo(f"VM host up in {vm.boot_seconds:.1f}s ({chosen}, image {image.path.name})")
    return vm


def down(state: Path = Path(DEFAULT_STATE), timeout: float = 20.0) -> bool:
    """Stop this state's VM host and drop its overlay disk; whether one was running."""
    state = state.resolve()
    pid = _running_pid(state)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _running_pid(state) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        if _running_pid(state) is not None:
            os.kill(pid, signal.SIGKILL)
            while _running_pid(state) is not None:
                time.sleep(0.1)
    for leftover in ("disk.qcow2", "qemu.pid", "vm.json"):
        (state / leftover).unlink(missing_ok=True)
    return pid is not None


def status(state: Path = Path(DEFAULT_STATE)) -> str:
    """One line about this state's VM host: name, state, port, accelerator, image; or ''."""
    state = state.resolve()
    try:
        vm = json.loads((state / "vm.json").read_text())
    except (OSError, ValueError):
        return ""
    pid = _running_pid(state)
    if pid is None:
        how = "stopped"
    else:
        how = "running, sshd answers" if ssh_answers(vm["port"]) else "running, sshd not answering"
    return (
        f"{vm['name']} {how} port={vm['port']} accel={vm['accel']} "
        f"image={vm['image']} inventory={state / 'hosts.yml'}"
    )
