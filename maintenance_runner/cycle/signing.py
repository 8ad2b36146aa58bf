"""SSH signatures over plan ids: ``ssh-keygen -Y sign|find-principals|verify`` (the I/O edge).

No cryptography of our own: a signature is what ``ssh-keygen -Y sign`` writes, and it is
trusted only when ``ssh-keygen -Y verify`` accepts it against the site's allowed_signers file
for the principal that file names for the key. The signed message binds the decision, the plan
id and the signing time, so an approval cannot be replayed as another decision, on another
plan, or at another time.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from maintenance_runner.errors import InputError

NAMESPACE = "maint-plan"
DECISIONS = ("author", "approve", "reject", "emergency")


class SigningError(InputError):
    """ssh-keygen could not sign (missing key, wrong passphrase, no ssh-keygen), or the key is
    not one the allowed_signers file knows: exit 2, nothing recorded."""


def message(decision: str, plan_id: str, signed_at: datetime) -> bytes:
    """The exact bytes that are signed."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    stamp = signed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"maint-plan v1\ndecision {decision}\nplan {plan_id}\nsigned-at {stamp}\n".encode()


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if not found:
        raise SigningError("ssh-keygen not found (install openssh-client)")
    return found


def sign(key: Path, data: bytes) -> str:
    """Sign ``data`` with the private ``key``; return the armored signature."""
    if not key.is_file():
        raise SigningError(f"{key}: no such key file")
    with tempfile.TemporaryDirectory(prefix="maint-sign-") as tmp:
        payload = Path(tmp) / "message"
        payload.write_bytes(data)
        proc = subprocess.run(
            [_ssh_keygen(), "-q", "-Y", "sign", "-f", str(key), "-n", NAMESPACE, str(payload)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise SigningError(f"{key}: ssh-keygen could not sign: {detail[-1] if detail else ''}")
        return (Path(tmp) / "message.sig").read_text()


@dataclass(frozen=True)
class Verified:
    principal: str | None  # who the allowed_signers file says signed it
    valid: bool
    reason: str = ""


def verify(allowed_signers: Path, signature: str, data: bytes) -> Verified:
    """Who signed ``data`` with ``signature``, according to ``allowed_signers``."""
    if not allowed_signers.is_file():
        return Verified(None, False, f"allowed_signers file {allowed_signers} does not exist")
    with tempfile.TemporaryDirectory(prefix="maint-verify-") as tmp:
        sig = Path(tmp) / "message.sig"
        sig.write_text(signature)
        found = subprocess.run(
            [_ssh_keygen(), "-Y", "find-principals", "-f", str(allowed_signers), "-s", str(sig)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        principals = [p for p in found.stdout.split() if p]
        if found.returncode != 0 or not principals:
            return Verified(None, False, "the signing key is not in the allowed_signers file")
        principal = principals[0]
        proc = subprocess.run(
            [
                _ssh_keygen(),
                "-Y",
                "verify",
                "-f",
                str(allowed_signers),
                "-I",
                principal,
                "-n",
                NAMESPACE,
                "-s",
                str(sig),
            ],
            input=data,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            return Verified(principal, False, "bad signature (the signed content differs)")
        return Verified(principal, True)


@dataclass(frozen=True)
class Signer:
    """A person (or the tick) and the private key they sign with."""

    principal: str
    key: Path


def identify(allowed_signers: Path, key: Path) -> Signer:
    """Who ``key`` signs as; refuse keys the allowed_signers file does not know."""
    probe = b"maint-plan whoami\n"
    checked = verify(allowed_signers, sign(key, probe), probe)
    if not checked.valid or checked.principal is None:
        raise SigningError(f"--key {key}: {checked.reason}")
    return Signer(checked.principal, key)
