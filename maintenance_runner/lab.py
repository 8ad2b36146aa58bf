"""``maint lab``: a fleet of lab hosts (Podman containers running sshd on loopback ports).

Each lab host is a container of the lab image started with ``--network host``, running
``sshd -p PORT -o ListenAddress=127.0.0.1``: a real SSH fleet on one machine. The maintenance
account ``maint`` logs in with a key generated for the lab and has passwordless sudo. With
``--fixture`` each host serves itself the fixture apt repository (maint-fixture 1.0 installed,
1.1 pending). Needs root, Podman and the lab image (``make lab-image``); lab commands work from
a source checkout, where lab/ lives.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import yaml

from .collection import source_root

IMAGE = "localhost/maint-lab:latest"
LABEL = "maint.lab=1"


class LabError(click.ClickException):
    """A lab prerequisite is missing or a lab command failed."""


@dataclass(frozen=True)
class LabHost:
    name: str
    port: int


def _podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise LabError(f"podman {' '.join(args[:2])}: {proc.stderr.strip() or proc.stdout}")
    return proc


def _require_lab() -> Path:
    if shutil.which("podman") is None:
        raise LabError("podman is not installed (apt-get install podman runc)")
    if _podman("image", "exists", IMAGE, check=False).returncode != 0:
        raise LabError(f"the lab image {IMAGE} is missing: run 'make lab-image' (as root)")
    root = source_root()
    if root is None:
        raise LabError("maint lab needs a source checkout (lab/ is not installed with the wheel)")
    return root


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_ssh(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise LabError(f"sshd on 127.0.0.1:{port} did not answer within {timeout:.0f}s")


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


def fixture_setup_script() -> str:
    return (
        "set -e\n"
        "[ -f /etc/apt/sources.list ] && mv /etc/apt/sources.list /etc/apt/sources.list.disabled\n"
        "printf 'deb [trusted=yes] file:/srv/maint-fixture/main ./\\n"
        "deb [trusted=yes] file:/srv/maint-fixture/security ./\\n'"
        " >/etc/apt/sources.list.d/maint-fixture.list\n"
        "apt-get update -qq\n"
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        "maint-fixture=1.0 maint-fixture-tools=1.0 >/dev/null\n"
        "service maint-fixture start >/dev/null\n"
    )


def start_host(host: LabHost, pubkey: str, fixture_dir: Path | None, prefix: str) -> None:
    if not _port_free(host.port):
        raise LabError(f"port {host.port} is already in use; pick another --base-port")
    _podman("rm", "-f", host.name, check=False)
    args = ["run", "-d", "--name", host.name, "--hostname", host.name, "--network", "host"]
    args += ["--label", LABEL, "--label", f"maint.lab.port={host.port}"]
    args += ["--label", f"maint.lab.prefix={prefix}"]
    if fixture_dir is not None:
        args += ["-v", f"{fixture_dir}:/srv/maint-fixture:ro"]
    args += [IMAGE, "/usr/sbin/sshd", "-D", "-e", "-p", str(host.port)]
    args += ["-o", "ListenAddress=127.0.0.1"]
    _podman(*args)
    auth = (
        f"install -d -m 0700 -o maint -g maint /home/maint/.ssh && "
        f"printf '%s\\n' '{pubkey}' >/home/maint/.ssh/authorized_keys && "
        f"chown maint:maint /home/maint/.ssh/authorized_keys && "
        f"chmod 0600 /home/maint/.ssh/authorized_keys"
    )
    _podman("exec", host.name, "sh", "-c", auth)
    if fixture_dir is not None:
        _podman("exec", host.name, "sh", "-c", fixture_setup_script())
    _wait_ssh(host.port)


def inventory(hosts: list[LabHost], key: Path, fixture: bool) -> dict[str, object]:
    host_vars = {h.name: {"ansible_host": "127.0.0.1", "ansible_port": h.port} for h in hosts}
    group_vars: dict[str, object] = {
        "ansible_user": "maint",
        "ansible_become": True,
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    if fixture:
        group_vars["patching_services"] = ["maint-fixture"]
        group_vars["patching_post_check_commands"] = ["/usr/bin/maint-fixture check"]
    return {"all": {"children": {"lab": {"hosts": host_vars, "vars": group_vars}}}}


@click.group("lab")
def lab_group() -> None:
    """Lab hosts for trying maint: Podman containers with sshd on loopback ports."""


@lab_group.command("up")
@click.option("-n", "--count", default=1, show_default=True, type=click.IntRange(1, 500))
@click.option("--base-port", default=2200, show_default=True, type=click.IntRange(1024, 65000))
@click.option("--prefix", default="maint-lab", show_default=True, help="Container name prefix.")
@click.option(
    "--fixture/--no-fixture",
    default=True,
    show_default=True,
    help="Serve the fixture apt repository and install maint-fixture 1.0.",
)
@click.option(
    "--state",
    default=".maint/lab",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the lab key, fixture repository and inventory are written.",
)
def lab_up(count: int, base_port: int, prefix: str, fixture: bool, state: Path) -> None:
    """Start COUNT lab hosts and write their inventory to STATE/hosts.yml."""
    root = _require_lab()
    state = state.resolve()
    key = lab_key(state)
    pubkey = key.with_suffix(".pub").read_text().strip()
    fixture_dir = None
    if fixture:
        fixture_dir = state / "fixture-repo"
        subprocess.run(
            [sys.executable, str(root / "lab" / "fixture_repo.py"), str(fixture_dir)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    hosts = [LabHost(f"{prefix}-{i}", base_port + i) for i in range(1, count + 1)]
    for host in hosts:
        start_host(host, pubkey, fixture_dir, prefix)
        click.echo(f"{host.name}: ssh -p {host.port} maint@127.0.0.1")
    inv = state / "hosts.yml"
    inv.write_text(yaml.safe_dump(inventory(hosts, key, fixture), sort_keys=False))
    click.echo(f"inventory: {inv}")


@lab_group.command("down")
@click.option("--prefix", help="Only the lab hosts started with this --prefix.")
def lab_down(prefix: str | None) -> None:
    """Remove the lab hosts (all of them unless --prefix is given)."""
    if shutil.which("podman") is None:
        raise LabError("podman is not installed")
    label = f"maint.lab.prefix={prefix}" if prefix else LABEL
    names = _podman("ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}").stdout
    names_list = names.split()
    if names_list:
        _podman("rm", "-f", "-t", "0", *names_list)
    click.echo(f"removed {len(names_list)} lab host(s)")


@lab_group.command("status")
def lab_status() -> None:
    """List the lab hosts and their SSH ports."""
    out = _podman(
        "ps",
        "-a",
        "--filter",
        f"label={LABEL}",
        "--format",
        '{{.Names}} {{.Status}} port={{index .Labels "maint.lab.port"}}',
    ).stdout
    click.echo(out.rstrip() or "no lab hosts")
