"""One SQLite connection to the broker file: pragmas, transactions and error mapping.

Every producer, consumer and the broker's own admin work hold one of these. sqlite3 errors
leave this module only as `BrokerUnavailable` naming the file, so callers never see a bare
``sqlite3.OperationalError``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from jobqueue.brokers.sqlite.config import BROKER_NAME
from jobqueue.errors import BrokerUnavailable

WAL_SIZE_LIMIT = 64 * 1024 * 1024


def unavailable(path: str, reason: str) -> BrokerUnavailable:
    return BrokerUnavailable(BROKER_NAME, path, reason)


def _describe(exc: sqlite3.Error) -> str:
    return f"{type(exc).__name__}: {exc}"


def _connect(path: str, timeout_s: float) -> sqlite3.Connection:
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise unavailable(path, f"cannot create directory {directory}: {exc.strerror}") from exc
    try:
        # isolation_level=None: no implicit transactions; we issue BEGIN IMMEDIATE ourselves.
        conn = sqlite3.connect(
            path, timeout=timeout_s, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise unavailable(path, _describe(exc)) from exc
    try:
        _configure(conn, path, time.monotonic() + timeout_s)
    except sqlite3.Error as exc:
        conn.close()
        raise unavailable(path, _describe(exc)) from exc
    except BrokerUnavailable:
        conn.close()
        raise
    return conn


def _configure(conn: sqlite3.Connection, path: str, deadline: float) -> None:
    """Set the pragmas. Switching to WAL can fail at once with "database is locked" (the
    busy timeout does not cover it) while another process opens the file: retry until
    ``deadline``."""
    pause = 0.01
    while True:
        try:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)
    if str(mode).lower() != "wal":
        raise unavailable(path, f"cannot switch to WAL mode (journal mode stays {mode})")
    # FULL: a commit returns only once the WAL is fsynced, so publish is durable.
    conn.execute("PRAGMA synchronous = FULL")
    # Large payloads grow the WAL; truncate it back after checkpoints.
    conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")


class Database:
    """A serialized sqlite3 connection; ``what`` names its owner in errors after `close`."""

    def __init__(self, path: str, timeout_s: float, what: str = "connection") -> None:
        self.path = path
        self._what = what
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = _connect(path, timeout_s)

    @property
    def closed(self) -> bool:
        return self._conn is None

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise unavailable(self.path, f"this {self._what} is closed")
        return self._conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back otherwise."""
        with self._lock:
            conn = self._require()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise unavailable(self.path, _describe(exc)) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    # The original error says more; SQLite also rolls back on close.
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise unavailable(self.path, _describe(exc)) from exc
                raise

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection for autocommit reads (each statement sees the latest commit)."""
        with self._lock:
            conn = self._require()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise unavailable(self.path, _describe(exc)) from exc

    def data_version(self) -> int:
        """Changes whenever another connection (any process) commits to the file."""
        with self.read() as conn:
            (version,) = conn.execute("PRAGMA data_version").fetchone()
            return int(version)

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
