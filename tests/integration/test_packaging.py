"""After installing the built wheel, ansible resolves maint.preventive with no extra settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    wheels = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
    )
    (wheel,) = wheels.glob("maint_preventive-*.whl")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    return target


def _clean_env(site):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PYTHONPATH"] = str(site)
    env["HOME"] = str(site)  # no user collections, no ansible.cfg from a home directory
    return env


def test_wheel_carries_the_collection(installed):
    coll = installed / "ansible_collections" / "maint" / "preventive"
    for path in (
        "galaxy.yml",
        "meta/runtime.yml",
        "roles/patching/tasks/main.yml",
        "playbooks/preventive.yml",
        "plugins/modules/apt_pending.py",
    ):
        assert (coll / path).is_file(), path
    assert (installed / "maintenance_runner" / "cli" / "main.py").is_file()


def test_ansible_resolves_modules_and_roles_from_the_wheel(installed, tmp_path):
    env = _clean_env(installed)
    doc = subprocess.run(
        [str(BIN / "ansible-doc"), "-t", "module", "maint.preventive.apt_pending"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert doc.returncode == 0, doc.stderr
    assert "apt-get dist-upgrade" in doc.stdout
    playbook = tmp_path / "site.yml"
    playbook.write_text("- hosts: all\n  roles:\n    - maint.preventive.patching\n")
    syntax = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(playbook)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert syntax.returncode == 0, syntax.stderr


def test_maint_cli_from_the_wheel_finds_the_installed_collection(installed, tmp_path):
    env = _clean_env(installed)
    code = (
        "from maintenance_runner.ansible.collection import collection_root, source_root;"
        "print(source_root(), collection_root())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == "None"
    assert out[1] == str(installed / "ansible_collections" / "maint" / "preventive")
