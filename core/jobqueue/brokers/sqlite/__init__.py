"""The embedded SQLite broker: durable queues in one local file, nothing to install."""

from __future__ import annotations

from jobqueue.brokers.sqlite.broker import MAX_PAYLOAD_BYTES, SqliteBroker
from jobqueue.brokers.sqlite.config import SqliteConfig

__all__ = ["MAX_PAYLOAD_BYTES", "SqliteBroker", "SqliteConfig"]
