"""The controller's schema as SQLAlchemy Core tables; migrations create exactly these.

``jobs`` holds one row per job *version*, keyed by (name, version) as in the original service.
Every name has exactly one row that is not ``deprecated`` (its latest version); a partial
unique index enforces that, so two racing updates can never both leave a live version.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("description", sa.String(100), nullable=False, server_default=""),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("queue_type", sa.String(100), nullable=False),
    # The config as the broker plugin validated it, secrets in clear: only dispatchers see it.
    sa.Column("queue_config", sa.JSON, nullable=False),
    # The same config with the plugin's secrets masked, for every admin route and log.
    sa.Column("queue_config_redacted", sa.JSON, nullable=False),
    sa.Column("retry_backoffs", sa.JSON, nullable=True),
    sa.Column("max_processing_time_ms", sa.BigInteger, nullable=False),
    sa.Column("error_policy", sa.JSON, nullable=True),
    sa.Column("emit_acks", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("name", "version"),
    sa.Index("ix_jobs_state", "state"),
    sa.Index(
        "uq_jobs_live_name",
        "name",
        unique=True,
        postgresql_where=sa.text("state <> 'deprecated'"),
        sqlite_where=sa.text("state <> 'deprecated'"),
    ),
)

dispatcher_registrations = sa.Table(
    "dispatcher_registrations",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("dispatcher_id", sa.String(200), nullable=False),
    sa.Column("job_name", sa.String(100), nullable=False),
    sa.Column("registered_at_ms", sa.BigInteger, nullable=False),
    sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("dispatcher_id", "job_name"),
    sa.Index("ix_dispatcher_registrations_last_seen_ms", "last_seen_ms"),
)
