"""Alembic migrations of the job store, run programmatically (no alembic.ini at runtime).

`upgrade` is what ``jobqueue migrate`` and ``jobqueue dev`` call; `check` is what the
controller calls at start-up so that it refuses an un-migrated or too new database.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from ..db import Database, make_engine, sqlite_file
from ..errors import DatabaseNotMigrated, DatabaseTooNew

_HERE = Path(__file__).resolve().parent

# Any constant works; it only has to be the same for every jobqueue process.
_PG_MIGRATION_LOCK = 0x6A6F6271


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package always ships at least one revision
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def upgrade(db_url: str) -> None:
    """Bring the database at ``db_url`` to the latest schema (idempotent)."""
    engine = make_engine(db_url, create_dirs=True)
    database = Database(engine)
    try:
        with database.write() as conn:
            if conn.dialect.name == "postgresql":
                # Two processes migrating one database at once must not both create tables.
                lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
                conn.execute(lock, {"key": _PG_MIGRATION_LOCK})
            config = _config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    with Database(engine).read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check(engine: Engine) -> None:
    """Raise `DatabaseNotMigrated` (or `DatabaseTooNew`) unless the schema is at head."""
    database = Database(engine)
    head = head_revision()
    path = sqlite_file(engine.url)
    if path is not None and not path.exists():
        raise DatabaseNotMigrated(database.url, None, head)
    current = current_revision(engine)
    if current == head:
        return
    if current is not None and current not in known_revisions():
        raise DatabaseTooNew(database.url, current)
    raise DatabaseNotMigrated(database.url, current, head)


__all__ = ["check", "current_revision", "head_revision", "upgrade"]
