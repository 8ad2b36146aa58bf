"""The VM lab host (maint lab vm up/status/down): a full Debian 12 under qemu, with its own
kernel and systemd, reached like a lab container through the inventory it writes."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from maintenance_runner.lab import vm as lab_vm

from . import labkit

pytestmark = pytest.mark.lab


def vm_missing():
    if os.geteuid() != 0:
        return "not root: the VM lab host needs root"
    for tool in ("qemu-system-x86_64", "qemu-img"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            return f"{tool} is not installed (make system-deps as root)"
    image = lab_vm.image_dir(Path(__file__).resolve().parents[2])
    if not (image / "disk.qcow2").exists():
        return f"the lab VM image {image.name} is missing (make lab-vm-image)"
    return None


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    missing = vm_missing()
    if missing:
        pytest.skip(missing)
    work = tmp_path_factory.mktemp("vm")
    state = work / "state"
    port = labkit.free_base(1, 4700, 4800) + 1
    name = f"maint-vm-{os.getpid()}"
    up = labkit.maint(
        "lab", "vm", "up", "--port", str(port), "--prefix", name, "--state", str(state), cwd=work
    )
    yield work, state, port, name, up
    labkit.maint("lab", "vm", "down", "--state", str(state), cwd=work)


def ssh(state, port, command):
    options = ["BatchMode=yes", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null"]
    return subprocess.run(
        ["ssh", "-i", str(state / "id_ed25519"), "-p", str(port)]
        + [arg for option in [*options, "LogLevel=ERROR"] for arg in ("-o", option)]
        + ["maint@127.0.0.1", command],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_up_writes_an_inventory_like_the_container_lab(vm):
    _, state, port, name, up = vm
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"{name}: ssh -p {port} maint@127.0.0.1" in up.stdout
    inv = yaml.safe_load((state / "hosts.yml").read_text())
    lab = inv["all"]["children"]["lab"]
    assert lab["hosts"] == {name: {"ansible_host": "127.0.0.1", "ansible_port": port}}
    assert lab["vars"]["ansible_user"] == "maint"
    assert lab["vars"]["patching_services"] == ["maint-fixture"]
    assert lab["vars"]["ansible_timeout"] == 120  # emulated, it can answer slowly
    status = labkit.maint("lab", "vm", "status", "--state", str(state), cwd=state)
    assert status.stdout.startswith(f"{name} running, sshd answers port={port} accel=")


def test_a_full_host_with_its_own_kernel_and_systemd(vm):
    _, state, port, name, _ = vm
    proc = ssh(
        state,
        port,
        "sudo -n true && hostname && uname -r && ps -o comm= -p 1 && "
        "systemctl is-system-running; sudo test -w /proc/sys/kernel/kptr_restrict && echo writable",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert lines[0] == name
    assert lines[1].endswith("-amd64")  # Debian's kernel, not this machine's
    assert lines[1] != os.uname().release
    assert lines[2] == "systemd"
    assert lines[3] == "running"  # no failed unit
    assert lines[4] == "writable"


def test_apt_reads_the_fixture_repository_and_maint_runs_unchanged(vm):
    work, state, port, _, _ = vm
    proc = ssh(
        state,
        port,
        "grep -rh '^deb' /etc/apt/sources.list.d; dpkg-query -W maint-fixture; "
        "systemctl is-active maint-fixture; sudo test -f /etc/maint/backup/lab.pass && echo seeded",
    )
    assert proc.returncode == 0, proc.stderr
    assert "file:/srv/maint-fixture/main" in proc.stdout
    assert "maint-fixture\t1.1" in proc.stdout
    assert proc.stdout.split()[-2:] == ["active", "seeded"]  # setup.sh ran to its end
    run = labkit.maint("run", "patching", "-i", str(state / "hosts.yml"), "--check", cwd=work)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "patching" in run.stdout


def test_down_stops_it_and_drops_its_disk(vm):
    work, state, port, _, _ = vm
    down = labkit.maint("lab", "vm", "down", "--state", str(state), cwd=work)
    assert down.stdout.strip() == "VM host stopped"
    assert not (state / "disk.qcow2").exists()
    assert labkit._free(port)  # the forwarded port is closed again
    again = labkit.maint("lab", "vm", "down", "--state", str(state), cwd=work)
    assert again.stdout.strip() == "no VM host running"


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    proc = labkit.maint("lab", "vm", "up", "--prefix", "Not_A_Host", cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "--prefix 'Not_A_Host'" in proc.stderr
    assert not (tmp_path / ".maint").exists()
