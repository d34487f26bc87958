"""`Store`: topics and consumer-group progress, held in this process's memory.

This is the part a real plugin replaces with its broker's client library. A store plays the
server: every `MemoryBroker` built for one store name shares it (each broker instance is a
new "connection"), and a store that was shut down refuses every call, the way an unreachable
server would, so the failure paths of the contract can be exercised too.

For each (topic, group) the store keeps leases: a polled record belongs to one consumer until
it is acked, its lease runs out, or that consumer closes; then the group may get it again.
A record is not handed to a consumer while an earlier record with the same key is leased to
another one, which keeps records of one key in publish order across consumers.

Nothing is trimmed and nothing survives the process: this broker is for tests and learning.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from jobqueue.errors import BrokerUnavailable

from jobqueue_memory.config import BROKER_NAME


@dataclass(frozen=True, slots=True)
class StoredRecord:
    payload: bytes
    key: bytes | None


@dataclass(frozen=True, slots=True)
class Claim:
    """A record leased to a consumer by `Store.claim`: where it is and what it holds."""

    offset: int
    record: StoredRecord


@dataclass(slots=True)
class _Lease:
    consumer: int
    deadline: float


@dataclass(slots=True)
class _Group:
    """One group's progress on one topic: acked offsets and live leases."""

    floor: int = 0  # every offset below it is acked
    acked: set[int] = field(default_factory=set)  # acked offsets at or above the floor
    leases: dict[int, _Lease] = field(default_factory=dict)

    def ack(self, offset: int) -> None:
        self.leases.pop(offset, None)
        if offset < self.floor:
            return
        self.acked.add(offset)
        while self.floor in self.acked:
            self.acked.discard(self.floor)
            self.floor += 1


class Store:
    """One in-process "server": append-only topics and per-group leases, behind one lock."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._cond = threading.Condition()
        self._topics: dict[str, list[StoredRecord]] = {}
        self._groups: dict[tuple[str, str], _Group] = {}
        self._consumer_ids = itertools.count(1)
        self._running = True

    @property
    def address(self) -> str:
        return f"memory://{self.name}"

    def shutdown(self) -> None:
        """Refuse every later call with `BrokerUnavailable`, and wake waiting polls."""
        with self._cond:
            self._running = False
            self._cond.notify_all()

    def ensure_topics(self, topics: Iterable[str]) -> None:
        with self._cond:
            self._check_running()
            for topic in topics:
                self._topics.setdefault(topic, [])

    def append(self, topic: str, records: Sequence[StoredRecord]) -> None:
        with self._cond:
            self._check_running()
            self._topics.setdefault(topic, []).extend(records)
            self._cond.notify_all()

    def new_consumer_id(self) -> int:
        with self._cond:
            self._check_running()
            return next(self._consumer_ids)

    def claim(
        self,
        topic: str,
        group: str,
        consumer: int,
        max_records: int,
        lease_s: float,
        timeout_s: float,
    ) -> list[Claim]:
        """Lease up to ``max_records`` records to ``consumer``, waiting up to ``timeout_s``."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._cond:
            while True:
                self._check_running()
                now = time.monotonic()
                claims, next_expiry = self._claim_now(
                    topic, group, consumer, max_records, lease_s, now
                )
                remaining = deadline - now
                if claims or remaining <= 0:
                    return claims
                # Wake for a publish, an ack or a release (notify), or when a lease runs out.
                wait = remaining if next_expiry is None else min(remaining, next_expiry - now)
                self._cond.wait(max(wait, 0.001))

    def ack(self, topic: str, group: str, offsets: Iterable[int]) -> None:
        with self._cond:
            self._check_running()
            state = self._groups.setdefault((topic, group), _Group())
            for offset in offsets:
                state.ack(offset)
            # An ack may unblock later records of the same key for other consumers.
            self._cond.notify_all()

    def renew(
        self, topic: str, group: str, consumer: int, offsets: Iterable[int], lease_s: float
    ) -> None:
        """Restart ``consumer``'s leases on ``offsets``; a lease another consumer took stays."""
        with self._cond:
            self._check_running()
            state = self._groups.setdefault((topic, group), _Group())
            deadline = time.monotonic() + lease_s
            for offset in offsets:
                lease = state.leases.get(offset)
                if lease is not None and lease.consumer == consumer:
                    lease.deadline = max(lease.deadline, deadline)

    def release(self, topic: str, group: str, consumer: int) -> None:
        """Give back every lease ``consumer`` holds (on close); works on a stopped store too."""
        with self._cond:
            state = self._groups.get((topic, group))
            if state is None:
                return
            for offset in [o for o, lease in state.leases.items() if lease.consumer == consumer]:
                del state.leases[offset]
            self._cond.notify_all()

    def _claim_now(
        self,
        topic: str,
        group: str,
        consumer: int,
        max_records: int,
        lease_s: float,
        now: float,
    ) -> tuple[list[Claim], float | None]:
        """Claims made at ``now``, and when the earliest live lease runs out (None: none)."""
        records = self._topics.setdefault(topic, [])
        state = self._groups.setdefault((topic, group), _Group())
        blocked_keys: set[bytes] = set()
        claims: list[Claim] = []
        next_expiry: float | None = None
        for offset in range(state.floor, len(records)):
            if offset in state.acked:
                continue
            record = records[offset]
            lease = state.leases.get(offset)
            if lease is not None and lease.deadline > now:
                if lease.consumer != consumer and record.key is not None:
                    blocked_keys.add(record.key)
                if next_expiry is None or lease.deadline < next_expiry:
                    next_expiry = lease.deadline
                continue
            if record.key is not None and record.key in blocked_keys:
                continue
            state.leases[offset] = _Lease(consumer, now + lease_s)
            claims.append(Claim(offset, record))
            if len(claims) == max_records:
                break
        return claims, next_expiry

    def _check_running(self) -> None:
        if not self._running:
            raise BrokerUnavailable(BROKER_NAME, self.address, "the store was shut down")


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def open_store(name: str) -> Store:
    """The store called ``name`` in this process, created on first use.

    A store that was shut down stays registered, so brokers configured for it keep failing
    with `BrokerUnavailable`, as they would against a server that went away.
    """
    with _stores_lock:
        store = _stores.get(name)
        if store is None:
            store = _stores[name] = Store(name)
        return store
