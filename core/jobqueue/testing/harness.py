"""What one conformance test opened, so that it is all closed when the test ends."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from jobqueue.contract import Broker, Consumer, Producer, Record


class Harness:
    """Builds brokers, producers and consumers through ``broker_factory`` and closes them.

    Closing at teardown ignores errors: a test that closes something itself has already
    exercised ``close``, and ``test_close_is_idempotent`` checks double closes on their own.
    """

    def __init__(self, broker_factory: Callable[[], Broker]) -> None:
        self._factory = broker_factory
        self._opened: list[Broker | Producer | Consumer] = []
        self._broker: Broker | None = None

    @property
    def broker(self) -> Broker:
        """The test's main broker instance (built on first use)."""
        if self._broker is None:
            self._broker = self.new_broker()
        return self._broker

    def new_broker(self) -> Broker:
        """Another broker instance on the same backend: new connections, like a new process."""
        broker = self._factory()
        self._opened.append(broker)
        return broker

    def producer(self, topic: str, broker: Broker | None = None) -> Producer:
        producer = (broker or self.broker).producer(topic)
        self._opened.append(producer)
        return producer

    def consumer(
        self, topic: str, group: str, *, lease_ms: int = 30_000, broker: Broker | None = None
    ) -> Consumer:
        consumer = (broker or self.broker).consumer(topic, group, lease_ms=lease_ms)
        self._opened.append(consumer)
        return consumer

    def publish(
        self, topic: str, payloads: Sequence[bytes], key: bytes | None = None
    ) -> list[Record]:
        """Publish ``payloads`` (all with ``key``) through a fresh producer; returns the records."""
        records = [Record(payload=payload, key=key) for payload in payloads]
        producer = self.producer(topic)
        producer.publish(records)
        producer.close()
        return records

    def close_all(self) -> None:
        # Newest first: producers and consumers before the brokers that made them.
        while self._opened:
            with contextlib.suppress(Exception):
                self._opened.pop().close()
