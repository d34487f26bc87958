"""Alembic environment: runs on the connection `jobqueue.controller.migrations.upgrade` opened."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from jobqueue.controller.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "jobqueue migrations run through `jobqueue migrate --db URL`, not the alembic command"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
