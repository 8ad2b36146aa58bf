"""Sightings: the first time a plan or an audit saw something on a host, kept once.

``kind`` ``update``: an update available (subject ``package=version``): a patch baseline's
``approve_after`` counts from it. ``kind`` ``cve``: a vulnerability the host is exposed to
(subject ``CVE-ID package``): its exposure and time to remediate count from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from maintenance_runner.actionlog import models as m
from maintenance_runner.actionlog.store import ActionLog, lock_table

Sighting = tuple[str, str, Mapping[str, Any] | None]  # host, subject, detail


def record_sightings(
    log: ActionLog,
    kind: str,
    seen: Iterable[Sighting],
    *,
    run_id: int | None = None,
    plan_uid: str | None = None,
) -> int:
    """Record the sightings not recorded yet (one transaction, under the chain's lock, so two
    planners at once record each once); return how many were new."""
    wanted = {(host, subject): detail for host, subject, detail in seen}
    if not wanted:
        return 0
    s = m.sightings
    with log.engine.begin() as conn:
        lock_table(conn, "sightings")
        hosts = sorted({host for host, _ in wanted})
        known = {
            (row.host, row.subject)
            for row in conn.execute(
                select(s.c.host, s.c.subject).where((s.c.kind == kind) & s.c.host.in_(hosts))
            )
        }
        rows = [
            {
                "kind": kind,
                "host": host,
                "subject": subject,
                "run_id": run_id,
                "plan_uid": plan_uid,
                "detail": dict(detail) if detail else None,
            }
            for (host, subject), detail in sorted(wanted.items())
            if (host, subject) not in known
        ]
        if rows:
            log.append_in(conn, "sightings", rows)
        return len(rows)


def first_seen(
    log: ActionLog, kind: str, hosts: Iterable[str] | None = None
) -> dict[str, dict[str, datetime]]:
    """host -> subject -> when it was first seen."""
    s = m.sightings
    query = select(s.c.host, s.c.subject, s.c.recorded_at).where(s.c.kind == kind)
    if hosts is not None:
        query = query.where(s.c.host.in_(sorted(set(hosts))))
    found: dict[str, dict[str, datetime]] = {}
    with log.engine.connect() as conn:
        for row in conn.execute(query):
            found.setdefault(str(row.host), {})[str(row.subject)] = row.recorded_at
    return found
