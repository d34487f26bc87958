"""Direct mode: the plugin's own client library does the work the dispatcher would do.

One producer publishes batches; ``workers`` consumers of one group poll up to a batch each and
ack what they got, each on its own thread (calls on one consumer are never concurrent).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from bench.targets import Target
from bench.workload import Tracker, Workload, decode_envelope
from jobqueue.contract import Consumer

POLL_TIMEOUT_S = 0.1
LEASE_MS = 60_000


class DirectSession:
    """A producer and ``workers`` consumers on ``topic``, kept open across the run's phases."""

    mode = "direct"

    def __init__(
        self, target: Target, topic: str, workload: Workload, batch: int, workers: int
    ) -> None:
        self.workload = workload
        self.batch = batch
        self.pid = os.getpid()
        self.broker = target.direct_broker(topic)
        try:
            self.broker.ensure_topics([topic])
            self.producer = self.broker.producer(topic)
            self.consumers = [
                self.broker.consumer(topic, topic, lease_ms=LEASE_MS) for _ in range(workers)
            ]
        except BaseException:
            self.broker.close()
            raise

    def publish(self, seqs: range) -> None:
        self.producer.publish(self.workload.records(seqs))

    def loops(self) -> list[Callable[[Tracker], None]]:
        return [self._loop(consumer) for consumer in self.consumers]

    def _loop(self, consumer: Consumer) -> Callable[[Tracker], None]:
        def run(tracker: Tracker) -> None:
            while not tracker.check_done():
                deliveries = consumer.poll(self.batch, POLL_TIMEOUT_S)
                if not deliveries:
                    continue
                received = time.monotonic_ns()
                seqs = tracker.delivered((decode_envelope(d.payload) for d in deliveries), received)
                consumer.ack(deliveries)
                tracker.acked(seqs)

        return run

    def close(self) -> None:
        try:
            for consumer in self.consumers:
                consumer.close()
            self.producer.close()
        finally:
            self.broker.close()
