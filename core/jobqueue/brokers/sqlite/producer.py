"""Publishing to the embedded broker: one transaction per batch, durable when it returns."""

from __future__ import annotations

from collections.abc import Sequence

from jobqueue.brokers.sqlite.clock import now_ms
from jobqueue.brokers.sqlite.config import BROKER_NAME
from jobqueue.brokers.sqlite.connection import Database
from jobqueue.contract import Producer, Record
from jobqueue.errors import BrokerUnavailable, PublishFailed

_INSERT = "INSERT INTO records (topic_id, key, payload, enqueued_ms) VALUES (?, ?, ?, ?)"


class SqliteProducer(Producer):
    """Writes records of one topic; a batch is all-or-nothing."""

    def __init__(self, db: Database, topic: str, topic_id: int, max_payload_bytes: int) -> None:
        self.topic = topic
        self._db = db
        self._topic_id = topic_id
        self._max_payload = max_payload_bytes

    def publish(self, records: Sequence[Record]) -> None:
        if not records:
            return
        everything = range(len(records))
        enqueued = now_ms()
        rows: list[tuple[int, bytes | None, bytes, int]] = []
        oversized: list[int] = []
        for index, record in enumerate(records):
            if not isinstance(record.payload, bytes) or not isinstance(record.key, bytes | None):
                raise TypeError(f"record {index}: payload must be bytes and key bytes or None")
            if len(record.payload) > self._max_payload:
                oversized.append(index)
            rows.append((self._topic_id, record.key, record.payload, enqueued))
        if oversized:
            listed = ", ".join(map(str, oversized[:10])) + (", ..." if len(oversized) > 10 else "")
            raise PublishFailed(
                BROKER_NAME,
                self._db.path,
                everything,
                f"record(s) {listed} larger than {self._max_payload} bytes; nothing was written",
            )
        try:
            with self._db.write() as conn:
                conn.executemany(_INSERT, rows)
        except BrokerUnavailable as exc:
            raise PublishFailed(BROKER_NAME, self._db.path, everything, exc.reason) from exc

    def close(self) -> None:
        self._db.close()
