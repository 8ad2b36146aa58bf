"""Anchoring the action log outside itself: signed checkpoints of its chain heads.

Deleting the newest rows of a chain together with its head cannot be seen from inside the
database: what is left is a shorter, intact chain. A checkpoint kept elsewhere (``maint log
anchor``: a file signed with ``ssh-keygen -Y sign``, by default with the tick's key) records
every chain's head; ``maint log verify --anchor FILE`` then finds rows removed or rewritten
after it: the anchored row must still be there with the anchored hash, and no chain may end
before it. Runs (a ``heads`` event), reports and notifications carry the heads they were
written against too, so every copy of them is another anchor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from maintenance_runner.actionlog.store import ActionLog, redact
from maintenance_runner.core.clock import Clock
from maintenance_runner.cycle.signing import NAMESPACE, sign, verify
from maintenance_runner.errors import InputError
from maintenance_runner.report.files import write_atomic

FORMAT = "maint-anchor/1"


def heads_of(log: ActionLog) -> dict[str, dict[str, Any]]:
    """table -> {"id": last id, "hash": last hash}: what an anchor (or a report) records."""
    return {name: {"id": last, "hash": digest} for name, (last, digest) in log.heads().items()}


def short_heads(heads: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """table -> ``id:hash16``, the compact form runs, reports and notifications carry."""
    return {name: f"{h['id']}:{str(h['hash'])[:16]}" for name, h in sorted(heads.items())}


def _payload(body: Mapping[str, Any]) -> bytes:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return f"maint-anchor v1\n{text}\n".encode()


def make_anchor(log: ActionLog, key: Path, clock: Clock) -> dict[str, Any]:
    """A checkpoint of every chain's head, signed with ``key``."""
    body = {
        "format": FORMAT,
        "log": redact(log.url),
        "at": clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "heads": heads_of(log),
    }
    return {**body, "signature": sign(key, _payload(body)), "namespace": NAMESPACE}


def write_anchor(anchor: Mapping[str, Any], out: Path) -> Path:
    return write_atomic(out, json.dumps(anchor, indent=2, sort_keys=True) + "\n")


@dataclass
class AnchorCheck:
    signer: str | None = None
    at: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_anchor(path: Path) -> dict[str, Any]:
    try:
        anchor = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable anchor file: {exc}") from None
    if not isinstance(anchor, dict) or anchor.get("format") != FORMAT:
        raise InputError(f"{path}: format: expected {FORMAT!r}")
    heads = anchor.get("heads")
    if not isinstance(heads, dict) or not all(
        isinstance(h, dict) and isinstance(h.get("id"), int) and isinstance(h.get("hash"), str)
        for h in heads.values()
    ):
        raise InputError(f"{path}: heads: expected table -> {{id, hash}}")
    if not isinstance(anchor.get("signature"), str):
        raise InputError(f"{path}: signature: missing")
    return anchor


def check_anchor(log: ActionLog, anchor: Mapping[str, Any], allowed_signers: Path) -> AnchorCheck:
    """What changed in the log since the checkpoint: rows removed or rewritten up to it."""
    body = {k: anchor[k] for k in ("format", "log", "at", "heads") if k in anchor}
    checked = verify(allowed_signers, str(anchor["signature"]), _payload(body))
    result = AnchorCheck(checked.principal, str(anchor.get("at", "")))
    if not checked.valid:
        result.problems.append(f"the anchor's signature is not valid: {checked.reason}")
        return result
    now = log.heads()
    for table, head in sorted(anchor["heads"].items()):
        anchored_id, anchored_hash = int(head["id"]), str(head["hash"])
        if table not in now:
            result.problems.append(f"{table}: the chain is gone (anchored at id {anchored_id})")
            continue
        last_id = now[table][0]
        if last_id < anchored_id:
            result.problems.append(
                f"{table}: rows removed after the checkpoint: the chain ends at id {last_id}, "
                f"the anchor saw id {anchored_id}"
            )
            continue
        if anchored_id == 0:
            continue
        stored = log.row_hash(table, anchored_id)
        if stored is None:
            result.problems.append(f"{table} id {anchored_id}: the anchored row was removed")
        elif stored != anchored_hash:
            result.problems.append(
                f"{table} id {anchored_id}: rewritten since the checkpoint (its hash differs "
                "from the anchored one: a row up to it was changed and the chain recomputed)"
            )
    return result


def default_anchor_path(base: Path, at: datetime) -> Path:
    return base / ".maint" / "anchors" / f"anchor-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.json"
