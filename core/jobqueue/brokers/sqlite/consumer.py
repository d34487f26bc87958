"""Consuming one (topic, group) from the embedded broker: long polls over row leases.

An idle poll does not spin on the write lock: it sleeps in short, growing steps and claims
again only when another connection committed (``PRAGMA data_version``) or one of the group's
leases ran out, or ``close()`` is called from another thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from jobqueue.brokers.sqlite import leases
from jobqueue.brokers.sqlite.clock import now_ms
from jobqueue.brokers.sqlite.connection import Database
from jobqueue.contract import Consumer, Delivery
from jobqueue.errors import BrokerUnavailable

log = logging.getLogger(__name__)

MIN_SLEEP_S = 0.01
MAX_SLEEP_S = 0.05
RETIRE_EVERY_ACKS = 1_000
RETIRE_EVERY_S = 1.0
RETIRE_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class SqliteHandle:
    """The opaque part of a `Delivery`: which record of which (topic, group)."""

    topic_id: int
    group: str
    record_id: int


class SqliteConsumer(Consumer):
    """Leases records of one topic to this consumer on behalf of its group."""

    def __init__(self, db: Database, ref: leases.GroupRef, topic: str, lease_ms: int) -> None:
        self.topic = topic
        self.group = ref.group
        self._db = db
        self._ref = ref
        self._lease_ms = lease_ms
        self._closing = threading.Event()
        self._acks_since_retire = 0
        self._last_retire = time.monotonic()

    def poll(self, max_records: int, timeout_s: float) -> list[Delivery]:
        if max_records < 1:
            raise ValueError(f"max_records must be at least 1, got {max_records}")
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            version = self._db.data_version()
            claimed: list[leases.Claimed] = []
            with self._db.read() as conn:
                work = leases.has_work(conn, self._ref, now_ms())
            if work:
                with self._db.write() as conn:
                    claimed = leases.claim(conn, self._ref, max_records, now_ms(), self._lease_ms)
            if claimed:
                return [self._delivery(c) for c in claimed]
            with self._db.read() as conn:
                expiry = leases.next_expiry_ms(conn, self._ref, now_ms())
            if not self._wait(version, expiry, deadline):
                return []

    def _delivery(self, claimed: leases.Claimed) -> Delivery:
        handle = SqliteHandle(self._ref.topic_id, self._ref.group, claimed.record_id)
        return Delivery(payload=claimed.payload, key=claimed.key, handle=handle)

    def _wait(self, version: int, expiry_ms: int | None, deadline: float) -> bool:
        """Sleep until something may be claimable (True) or the deadline or close (False)."""
        delay = MIN_SLEEP_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            pause = min(delay, remaining)
            if expiry_ms is not None:
                pause = min(pause, max(0.0, (expiry_ms - now_ms()) / 1000))
            if self._closing.wait(pause):
                return False
            delay = min(delay * 2, MAX_SLEEP_S)
            if expiry_ms is not None and now_ms() >= expiry_ms:
                return True
            if self._db.data_version() != version:
                return True

    def _record_ids(self, deliveries: Sequence[Delivery]) -> list[int]:
        record_ids = []
        for delivery in deliveries:
            handle = delivery.handle
            if (
                not isinstance(handle, SqliteHandle)
                or handle.topic_id != self._ref.topic_id
                or handle.group != self._ref.group
            ):
                raise ValueError(
                    f"delivery {handle!r} was not handed out for topic {self.topic!r}, "
                    f"group {self.group!r} of this broker"
                )
            record_ids.append(handle.record_id)
        return record_ids

    def extend(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        record_ids = self._record_ids(deliveries)
        with self._db.write() as conn:
            leases.renew(conn, self._ref, record_ids, now_ms() + self._lease_ms)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        record_ids = self._record_ids(deliveries)
        with self._db.write() as conn:
            leases.ack(conn, self._ref, record_ids)
        self._acks_since_retire += len(record_ids)
        if (
            self._acks_since_retire >= RETIRE_EVERY_ACKS
            or time.monotonic() - self._last_retire >= RETIRE_EVERY_S
        ):
            self._retire()

    def _retire(self) -> None:
        self._acks_since_retire = 0
        self._last_retire = time.monotonic()
        try:
            with self._db.write() as conn:
                leases.retire(conn, self._ref.topic_id, RETIRE_BATCH)
        except BrokerUnavailable as exc:
            log.warning("could not delete acked records of topic %r: %s", self.topic, exc)

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        try:
            with self._db.write() as conn:
                leases.release(conn, self._ref)
        except BrokerUnavailable as exc:
            log.warning(
                "could not release the leases of topic %r group %r (they return when they "
                "expire): %s",
                self.topic,
                self.group,
                exc,
            )
        finally:
            self._db.close()
