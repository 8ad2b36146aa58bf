"""What the lab tests share: the maint CLI as a subprocess, free loopback ports, SSH keys."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

BIN = Path(sys.executable).parent


def maint(
    *args: str, cwd: Path, check: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``maint ARGS`` in ``cwd`` (with ``env`` added to the environment); with ``check``,
    fail the test with its output."""
    proc = subprocess.run(
        [str(BIN / "maint"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env} if env else None,
    )
    if check:
        assert proc.returncode == 0, f"maint {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_base(count: int, start: int, stop: int) -> int:
    """A base port whose ``count`` following ports (the lab hosts') are all free on loopback."""
    for base in range(start, stop, count + 1):
        if all(_free(base + i) for i in range(1, count + 1)):
            return base
    raise RuntimeError(f"no {count} free loopback ports between {start} and {stop}")


def signers(site: Path, names: Iterable[str], *, outsiders: Iterable[str] = ()) -> None:
    """An ed25519 key per name in ``site``, and ``site/allowed_signers`` listing
    ``NAME@example.org`` for each of ``names`` (never for ``outsiders``)."""
    lines = []
    for who in [*names, *outsiders]:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(site / who)],
            check=True,
        )
    for who in names:
        lines.append(f"{who}@example.org {(site / (who + '.pub')).read_text().strip()}\n")
    (site / "allowed_signers").write_text("".join(lines))
