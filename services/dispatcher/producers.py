"""One producer per topic, opened lazily, each used by one thread at a time (the contract)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from jobqueue.contract import Broker, Producer, Record


class ProducerPool:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._producers: dict[str, tuple[Producer, threading.Lock]] = {}
        self._guard = threading.Lock()

    def publish_blocking(self, topic: str, records: Sequence[Record]) -> None:
        """Publish to ``topic`` (blocking; call from a thread). Raises what the plugin raises."""
        if not records:
            return
        with self._guard:
            pair = self._producers.get(topic)
            if pair is None:
                pair = (self._broker.producer(topic), threading.Lock())
                self._producers[topic] = pair
        producer, lock = pair
        with lock:
            producer.publish(records)

    def close(self) -> None:
        with self._guard:
            pairs = list(self._producers.values())
            self._producers.clear()
        for producer, lock in pairs:
            with lock:
                producer.close()
