"""The tables of the broker file and how they are created (idempotently, by any process).

    topics   one row per topic name; ``id`` is what the other tables store.
    records  every retained record of every topic; ``id`` only grows (AUTOINCREMENT), so a
             group's ``read_upto`` position stays meaningful after old rows are deleted.
    groups   one row per (topic, consumer group). Every record of the topic with
             ``id <= read_upto`` is either acked by the group or has a row in ``leases``.
    leases   the group's un-acked records at or below ``read_upto``: leased to ``owner``
             until ``lease_until_ms``, or available (``owner`` NULL, ``lease_until_ms`` 0).
             Acking deletes the row, so this table only holds in-flight work.

The layout version lives in ``PRAGMA user_version``; a file written by a newer layout is
refused rather than misread.
"""

from __future__ import annotations

import sqlite3

from jobqueue.brokers.sqlite.connection import Database, unavailable

SCHEMA_VERSION = 1

_TABLES = (
    """CREATE TABLE IF NOT EXISTS topics (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_ms INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        topic_id INTEGER NOT NULL,
        key BLOB,
        payload BLOB NOT NULL,
        enqueued_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS records_by_topic ON records (topic_id, id)",
    """CREATE TABLE IF NOT EXISTS groups (
        topic_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        read_upto INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (topic_id, name)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS leases (
        topic_id INTEGER NOT NULL,
        group_name TEXT NOT NULL,
        record_id INTEGER NOT NULL,
        key BLOB,
        owner TEXT,
        lease_until_ms INTEGER NOT NULL,
        PRIMARY KEY (topic_id, group_name, record_id)
    ) WITHOUT ROWID""",
)


def _version(conn: sqlite3.Connection) -> int:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    return int(version)


def ensure_schema(db: Database) -> None:
    """Create the tables if this file has none yet; refuse a file from a newer layout."""
    with db.read() as conn:
        version = _version(conn)
    if version == SCHEMA_VERSION:
        return
    with db.write() as conn:
        version = _version(conn)  # another process may have created it meanwhile
        if version > SCHEMA_VERSION:
            raise unavailable(
                db.path,
                f"the file has schema version {version}; this jobqueue supports up to "
                f"{SCHEMA_VERSION} (upgrade jobqueue)",
            )
        if version == SCHEMA_VERSION:
            return
        for statement in _TABLES:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def topic_id(db: Database, topic: str, now_ms: int) -> int:
    """The id of ``topic``, creating its row if needed."""
    with db.read() as conn:
        row = conn.execute("SELECT id FROM topics WHERE name = ?", (topic,)).fetchone()
    if row is not None:
        return int(row[0])
    with db.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO topics (name, created_ms) VALUES (?, ?)", (topic, now_ms)
        )
        (found,) = conn.execute("SELECT id FROM topics WHERE name = ?", (topic,)).fetchone()
        return int(found)
