"""Initial schema: versioned jobs and dispatcher registrations.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LIVE = sa.text("state <> 'deprecated'")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("description", sa.String(100), nullable=False, server_default=""),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("queue_type", sa.String(100), nullable=False),
        sa.Column("queue_config", sa.JSON, nullable=False),
        sa.Column("queue_config_redacted", sa.JSON, nullable=False),
        sa.Column("retry_backoffs", sa.JSON, nullable=True),
        sa.Column("max_processing_time_ms", sa.BigInteger, nullable=False),
        sa.Column("error_policy", sa.JSON, nullable=True),
        sa.Column("emit_acks", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("name", "version", name="uq_jobs_name_version"),
    )
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_index(
        "uq_jobs_live_name",
        "jobs",
        ["name"],
        unique=True,
        postgresql_where=_LIVE,
        sqlite_where=_LIVE,
    )
    op.create_table(
        "dispatcher_registrations",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("dispatcher_id", sa.String(200), nullable=False),
        sa.Column("job_name", sa.String(100), nullable=False),
        sa.Column("registered_at_ms", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dispatcher_registrations"),
        sa.UniqueConstraint(
            "dispatcher_id", "job_name", name="uq_dispatcher_registrations_dispatcher_id_job_name"
        ),
    )
    op.create_index(
        "ix_dispatcher_registrations_last_seen_ms", "dispatcher_registrations", ["last_seen_ms"]
    )


def downgrade() -> None:
    op.drop_table("dispatcher_registrations")
    op.drop_table("jobs")
