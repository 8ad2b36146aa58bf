"""The VM lab host's pieces that need no VM: its qemu command line, names, bad input."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from maintenance_runner.cli.main import main as cli
from maintenance_runner.lab import vm as lab_vm
from maintenance_runner.lab.fleet import LabInputError


def args(accel="tcg"):
    return lab_vm.qemu_args(
        name="judge-vm",
        port=4650,
        image=lab_vm.VmImage(Path("/img")),
        state=Path("/state"),
        shares={"maint-lab": Path("/repo/lab/fleet"), "maint-seed": Path("/state/seed")},
        accel=accel,
    )


def after(argv, flag):
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_qemu_boots_the_image_kernel_with_sshd_on_a_loopback_port():
    argv = args()
    assert argv[0] == "qemu-system-x86_64"
    assert after(argv, "-kernel") == ["/img/vmlinuz"]
    assert after(argv, "-initrd") == ["/img/initrd.img"]
    assert "root=LABEL=maint-root" in after(argv, "-append")[0]
    # The overlay in STATE, never the cached image itself.
    assert after(argv, "-drive")[0].startswith("file=/state/disk.qcow2,")
    assert after(argv, "-netdev") == ["user,id=lab,hostfwd=tcp:127.0.0.1:4650-:22"]
    assert after(argv, "-accel") == ["tcg"] and after(argv, "-cpu") == ["max"]
    assert after(args("kvm"), "-cpu") == ["host"]
    assert after(argv, "-pidfile") == ["/state/qemu.pid"]


def test_the_lab_files_are_shared_read_only_by_tag():
    shares = after(args(), "-virtfs")
    tags = [dict(kv.split("=") for kv in s.split(",")[1:])["mount_tag"] for s in shares]
    assert tags == ["maint-env", "maint-lab", "maint-seed"]
    assert all("readonly=on" in s for s in shares)
    assert "path=/state/env," in shares[0]


def test_env_file_carries_what_setup_sh_takes():
    text = lab_vm._env_file("ssh-ed25519 AAAA maint-lab", True, "judge-vm")
    assert text.splitlines() == [
        "MAINT_LAB_PUBKEY='ssh-ed25519 AAAA maint-lab'",
        "MAINT_LAB_FIXTURE=latest",
        "MAINT_LAB_HOSTNAME=judge-vm",
    ]
    assert "MAINT_LAB_FIXTURE=none" in lab_vm._env_file("k", False, "x")


@pytest.mark.parametrize("name", ["Upper", "under_score", "-dash", "dash-", "a" * 64, ""])
def test_a_name_that_is_not_a_host_name_is_refused(name):
    with pytest.raises(LabInputError):
        lab_vm.check_name(name)


def test_bad_input_to_vm_up_is_one_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["lab", "vm", "up", "--prefix", "Bad_Name"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: --prefix 'Bad_Name': a host name is wanted (lower-case letters, digits and '-', "
        "at most 63, not starting or ending with '-')"
    ]
    assert runner.invoke(cli, ["lab", "vm", "up", "--accel", "xen"]).exit_code == 2
    assert runner.invoke(cli, ["lab", "vm", "up", "--port", "80"]).exit_code == 2
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing started
