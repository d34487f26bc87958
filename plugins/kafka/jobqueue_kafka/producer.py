"""Publishing to a Kafka topic: every record acknowledged by all in-sync replicas, or an error.

The producer is idempotent with ``acks=all``, so librdkafka's own retries never duplicate or
reorder a key's records. ``publish`` returns only after a delivery report arrived for every
record; the indexes of the records that failed are raised in `PublishFailed`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import confluent_kafka as ck

from jobqueue.contract import BrokerContext, Producer, Record
from jobqueue.errors import BrokerUnavailable, PublishFailed
from jobqueue_kafka import clients, settings
from jobqueue_kafka.config import BROKER_NAME, KafkaConfig
from jobqueue_kafka.failures import describe

log = logging.getLogger(__name__)

# Delivery reports come back within message.timeout.ms; this much more is allowed for them.
_REPORT_GRACE_S = 5.0


class _Reports:
    """Delivery reports of one publish call, by record index."""

    def __init__(self) -> None:
        self.delivered: set[int] = set()
        self.failed: dict[int, str] = {}

    def callback(self, index: int) -> Any:
        def on_delivery(error: ck.KafkaError | None, _message: ck.Message) -> None:
            if error is None:
                self.delivered.add(index)
            else:
                self.failed[index] = describe(error)

        return on_delivery


class KafkaProducer(Producer):
    """Writes records to one topic; build it with `KafkaBroker.producer`."""

    def __init__(self, config: KafkaConfig, context: BrokerContext, topic: str) -> None:
        self._config = config
        self._context = context
        self._topic = topic
        self._settings = settings.producer(config, context)
        timeout_ms = self._settings.get("message.timeout.ms") or self._settings.get(
            "delivery.timeout.ms", 300_000
        )
        self._delivery_timeout_s = float(timeout_ms) / 1000
        self._fatal: str | None = None
        self._closed = False
        self._producer = self._connect()

    def _connect(self) -> ck.Producer:
        producer = ck.Producer({**self._settings, "error_cb": self._on_error})
        try:
            clients.reachable(producer, self._config, self._context.timeout_s)
        except BrokerUnavailable:
            clients.close(producer)
            raise
        return producer

    def _on_error(self, error: ck.KafkaError) -> None:
        if error.fatal():
            self._fatal = describe(error)
        down = error.code() == ck.KafkaError._ALL_BROKERS_DOWN
        level = logging.WARNING if down else logging.DEBUG
        log.log(level, "kafka producer for %s: %s", self._topic, describe(error))

    def publish(self, records: Sequence[Record]) -> None:
        if self._closed:
            raise RuntimeError("publish on a closed KafkaProducer")
        if not records:
            return
        if self._fatal is not None:
            # A fatal error (e.g. the idempotence state was lost) makes the client unusable.
            log.warning("kafka producer for %s hit %s; reconnecting", self._topic, self._fatal)
            clients.close(self._producer)
            self._fatal = None
            self._producer = self._connect()
        reports = _Reports()
        deadline = time.monotonic() + self._delivery_timeout_s + _REPORT_GRACE_S
        for index, record in enumerate(records):
            self._produce(index, record, reports, deadline)
        remaining = self._producer.flush(max(0.0, deadline - time.monotonic()))
        if remaining:
            # Reports overdue: stop waiting; whatever has no report counts as not accepted.
            self._producer.purge(in_queue=True, in_flight=True, blocking=False)
            self._producer.flush(1.0)
        missing = [i for i in range(len(records)) if i not in reports.delivered]
        if missing:
            first = reports.failed.get(missing[0], "no delivery report in time")
            raise PublishFailed(BROKER_NAME, self._config.address(), missing, first)

    def _produce(self, index: int, record: Record, reports: _Reports, deadline: float) -> None:
        while True:
            try:
                self._producer.produce(
                    self._topic,
                    value=record.payload,
                    key=record.key,
                    on_delivery=reports.callback(index),
                )
                return
            except BufferError:
                # The local queue is full: serve delivery reports to make room, then retry.
                if time.monotonic() >= deadline:
                    reports.failed[index] = "local producer queue full"
                    return
                self._producer.poll(0.05)
            except ck.KafkaException as exc:  # e.g. the record is larger than allowed
                reports.failed[index] = describe(exc)
                return

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        remaining = self._producer.flush(self._context.timeout_s)
        if remaining:
            log.warning(
                "kafka producer for %s closed with %d record(s) undelivered", self._topic, remaining
            )
        clients.close(self._producer)
