"""Alembic environment for the action log, run programmatically by ``store.migrate``.

The caller passes an open connection (already inside a transaction, holding the migration
lock) in ``config.attributes["connection"]``; there is no alembic.ini.
"""

from __future__ import annotations

from alembic import context

from maintenance_runner.actionlog.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs alembic by hand
    raise RuntimeError("run the action log migrations through maintenance_runner.actionlog.migrate")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
