"""Fixtures for the action log integration tests: a fresh store URL on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pg_server import fresh_database, server_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """An empty action log database: a SQLite file, or a new database on a real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'actionlog.db'}"
        return
    url, reason = server_url()
    if url is None:
        pytest.skip(reason)
    with fresh_database(url) as db_url:
        yield db_url
