"""Find or start the PostgreSQL server the action log tests run against.

``MAINT_TEST_PG_URL`` (a server URL with a database the tests may create databases from) wins;
otherwise ``scripts/start-postgres.sh`` installs the Debian package if needed (root only),
starts a throwaway cluster on 127.0.0.1:55432 under .cache/pg and prints its URL. When neither
works, :func:`server_url` returns ``None`` and a reason, and the PostgreSQL tests skip with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "start-postgres.sh"


@lru_cache(maxsize=1)
def server_url() -> tuple[str | None, str]:
    """(url, reason): the URL of a usable server, or None and why there is none."""
    url = os.environ.get("MAINT_TEST_PG_URL")
    if url:
        return url, "MAINT_TEST_PG_URL"
    has_server = any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not has_server and os.geteuid() != 0:
        return None, (
            "no PostgreSQL: MAINT_TEST_PG_URL is not set, the Debian package postgresql is not "
            "installed and installing it needs root"
        )
    if shutil.which("bash") is None:
        return None, "no PostgreSQL: bash is needed to run scripts/start-postgres.sh"
    done = subprocess.run(
        ["bash", str(SCRIPT), str(ROOT / ".cache" / "pg")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"no PostgreSQL: scripts/start-postgres.sh failed: {tail}"
    return done.stdout.strip().splitlines()[-1], "scripts/start-postgres.sh"


def _driver_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """Create an empty database on the server at ``url``; drop it afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(_driver_url(url))
    name = f"maint_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
