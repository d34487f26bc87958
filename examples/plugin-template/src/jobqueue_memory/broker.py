"""`MemoryBroker` and its producer and consumer: the broker contract over a `Store`.

Everything a plugin must get right is visible here: validate the config type, raise
`BrokerUnavailable` / `PublishFailed` naming the broker and its address, ack out of order
without losing an un-acked record, and give leases back on ``close()``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from jobqueue.contract import (
    Broker,
    BrokerConfig,
    BrokerContext,
    Capabilities,
    Consumer,
    Delivery,
    Producer,
    Record,
)
from jobqueue.errors import BrokerConfigError, PublishFailed

from jobqueue_memory.config import BROKER_NAME, MemoryConfig
from jobqueue_memory.store import Store, StoredRecord, open_store

MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


@dataclass(frozen=True, slots=True)
class MemoryHandle:
    """The opaque part of a `Delivery`: which record of which (topic, group)."""

    topic: str
    group: str
    offset: int


class MemoryProducer(Producer):
    def __init__(self, store: Store, topic: str) -> None:
        self._store = store
        self._topic = topic

    def publish(self, records: Sequence[Record]) -> None:
        fitting = [r for r in records if len(r.payload) <= MAX_PAYLOAD_BYTES]
        if fitting:
            self._store.append(self._topic, [StoredRecord(r.payload, r.key) for r in fitting])
        too_large = [i for i, r in enumerate(records) if len(r.payload) > MAX_PAYLOAD_BYTES]
        if too_large:
            raise PublishFailed(
                BROKER_NAME,
                self._store.address,
                too_large,
                f"payload larger than {MAX_PAYLOAD_BYTES} bytes",
            )

    def close(self) -> None:
        return None


class MemoryConsumer(Consumer):
    def __init__(self, store: Store, topic: str, group: str, lease_ms: int) -> None:
        self._store = store
        self._topic = topic
        self._group = group
        self._lease_s = lease_ms / 1000
        self._id = store.new_consumer_id()
        self._closed = False

    def poll(self, max_records: int, timeout_s: float) -> list[Delivery]:
        if max_records < 1:
            raise ValueError(f"max_records must be at least 1, got {max_records}")
        if self._closed:
            raise RuntimeError("poll on a closed consumer")
        claims = self._store.claim(
            self._topic, self._group, self._id, max_records, self._lease_s, timeout_s
        )
        return [
            Delivery(
                payload=claim.record.payload,
                key=claim.record.key,
                handle=MemoryHandle(self._topic, self._group, claim.offset),
            )
            for claim in claims
        ]

    def _offsets(self, deliveries: Sequence[Delivery]) -> list[int]:
        offsets = []
        for delivery in deliveries:
            handle = delivery.handle
            if not isinstance(handle, MemoryHandle) or (handle.topic, handle.group) != (
                self._topic,
                self._group,
            ):
                raise ValueError(f"{handle!r} was not delivered by this consumer's topic/group")
            offsets.append(handle.offset)
        return offsets

    def extend(self, deliveries: Sequence[Delivery]) -> None:
        offsets = self._offsets(deliveries)
        if offsets:
            self._store.renew(self._topic, self._group, self._id, offsets, self._lease_s)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        offsets = self._offsets(deliveries)
        if offsets:
            self._store.ack(self._topic, self._group, offsets)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._store.release(self._topic, self._group, self._id)


class MemoryBroker(Broker):
    """Topics in an in-process `Store`; ordering within a key, leases per consumer group."""

    name: ClassVar[str] = BROKER_NAME
    config_type: ClassVar[type[BrokerConfig]] = MemoryConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_payload_bytes=MAX_PAYLOAD_BYTES, ordering="key", keyed=True
    )

    def __init__(self, config: BrokerConfig, context: BrokerContext | None = None) -> None:
        if not isinstance(config, MemoryConfig):
            raise BrokerConfigError(BROKER_NAME, f"expected MemoryConfig, got {type(config)}")
        super().__init__(config, context)
        self._store = open_store(config.store)

    def producer(self, topic: str) -> Producer:
        _check_topic(topic)
        return MemoryProducer(self._store, topic)

    def consumer(self, topic: str, group: str, *, lease_ms: int = 30_000) -> Consumer:
        _check_topic(topic)
        if not group:
            raise BrokerConfigError(BROKER_NAME, "must not be empty", "group")
        return MemoryConsumer(self._store, topic, group, lease_ms)

    def ensure_topics(self, topics: Sequence[str]) -> None:
        for topic in topics:
            _check_topic(topic)
        self._store.ensure_topics(topics)


def _check_topic(topic: str) -> None:
    if not _TOPIC.match(topic):
        raise BrokerConfigError(
            BROKER_NAME, f"{topic!r} is not a topic name (letters, digits, '.', '_', '-')", "topic"
        )
