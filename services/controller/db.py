"""Engines and transactions for the job store: PostgreSQL in production, SQLite embedded.

SQLite needs care under concurrent writers: WAL so that readers never wait for a writer, a
busy timeout so that writers queue instead of failing, and ``BEGIN IMMEDIATE`` for write
transactions, because a transaction that reads and then writes can otherwise fail with
SQLITE_BUSY when it upgrades its lock, which the busy timeout does not cover.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

from jobqueue.errors import InvalidInput

from .errors import DatabaseUnavailable

_WRITE = "jobqueue_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10


def parse_url(db_url: str) -> sa.URL:
    try:
        return sa.make_url(db_url)
    except exc.ArgumentError:
        raise InvalidInput("db", "not a SQLAlchemy database URL (e.g. sqlite:///path.db)") from None


def safe_url(db_url: str | sa.URL) -> str:
    """The URL with its password masked, for messages and logs."""
    url = parse_url(db_url) if isinstance(db_url, str) else db_url
    return url.render_as_string(hide_password=True)


def sqlite_file(url: sa.URL) -> Path | None:
    """The file of a SQLite URL, or None for other databases and in-memory SQLite."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(db_url: str, *, create_dirs: bool = False) -> Engine:
    """An engine for ``db_url``; ``create_dirs`` makes a SQLite file's parent directory.

    Statement parameters are kept out of error messages and logs: they hold queue configs
    with their secrets in clear.
    """
    url = parse_url(db_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None and create_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, hide_parameters=True)
        _tune_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if url.get_driver_name() == "psycopg2":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    return sa.create_engine(
        url, pool_pre_ping=True, connect_args=connect_args, hide_parameters=True
    )


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module: it would BEGIN lazily and DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Short read and write transactions that turn driver failures into typed errors."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = safe_url(engine.url)
        self._writer = engine.execution_options(**{_WRITE: True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translate(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction committed on exit; IntegrityError passes through for the caller."""
        with self._translate(), self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except exc.IntegrityError:
            raise
        except (exc.DBAPIError, exc.TimeoutError) as error:
            raise DatabaseUnavailable(self.url, _reason(error)) from error

    def dispose(self) -> None:
        self.engine.dispose()


def _reason(error: Exception) -> str:
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else 'no detail'}"
