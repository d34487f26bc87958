"""Consuming a Kafka topic as one member of a consumer group, committing only what was acked.

Offsets are committed for the contiguous acked prefix of each partition (`OffsetLedger`), so
out-of-order acks never commit past a record still being worked on; acks past that record
ride in the commit's metadata, so the partition's next owner does not hand them out again
(on clusters that store commit metadata, as Apache Kafka does).

Commits are synchronous: ``ack`` returns once the cluster stored the offset, so an acked
record is not redelivered after a crash that follows, and a failed commit surfaces as
`BrokerUnavailable` (the dispatcher reports those ids as ``failed_ids`` and the ack is retried)
instead of being lost in a callback. The price is one round trip per ``ack`` call, which the
dispatcher pays per batch of acks, not per message.

On a rebalance the revoked partitions' acked prefix is committed before they go, and their
in-flight deliveries are dropped: acking one later is silently ignored (it commits nothing;
the record is redelivered to the partition's new owner). Kafka has no per-record lease: a
record polled and never acked returns when its partition changes owner or this consumer
closes; ``lease_ms`` sets ``max.poll.interval.ms``, so a consumer not polled for that long
leaves the group and its un-acked records go to the other members.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import confluent_kafka as ck

from jobqueue.contract import BrokerContext, Consumer, Delivery
from jobqueue.errors import BrokerUnavailable
from jobqueue_kafka import clients, settings
from jobqueue_kafka.config import KafkaConfig
from jobqueue_kafka.failures import describe, unavailable
from jobqueue_kafka.ledger import Handle, OffsetLedger, Stored, TopicPartitionKey

log = logging.getLogger(__name__)

# Commit errors meaning "this member no longer owns the partition or is rejoining": the revoke
# callback commits what it may, and anything uncommitted goes to the partition's next owner.
_OWNERSHIP_CHANGING = frozenset(
    {
        ck.KafkaError.REBALANCE_IN_PROGRESS,
        ck.KafkaError.ILLEGAL_GENERATION,
        ck.KafkaError.UNKNOWN_MEMBER_ID,
        ck.KafkaError.FENCED_INSTANCE_ID,
        ck.KafkaError._ASSIGNMENT_LOST,
        ck.KafkaError._STATE,
    }
)


def _keys(partitions: list[ck.TopicPartition]) -> list[TopicPartitionKey]:
    return [(tp.topic, tp.partition) for tp in partitions]


def _failed_keys(result: list[ck.TopicPartition]) -> set[TopicPartitionKey]:
    return {(tp.topic, tp.partition) for tp in result if tp.error is not None}


class KafkaConsumer(Consumer):
    """One member of consumer group ``group`` on ``topic``; build it with
    `KafkaBroker.consumer`."""

    def __init__(
        self, config: KafkaConfig, context: BrokerContext, topic: str, group: str, lease_ms: int
    ) -> None:
        self._config = config
        self._timeout_s = context.timeout_s
        self._topic = topic
        self._group = group
        self._ledger = OffsetLedger()
        self._fatal: str | None = None
        self._brokers_down = False
        self._closed = False
        self._consumer = ck.Consumer(
            {**settings.consumer(config, context, group, lease_ms), "error_cb": self._on_error}
        )
        try:
            clients.reachable(self._consumer, config, self._timeout_s)
        except BrokerUnavailable:
            self._consumer.close()
            raise
        self._consumer.subscribe(
            [topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    # -- librdkafka callbacks (run inside poll / close, on the caller's thread) --------------

    def _on_error(self, error: ck.KafkaError) -> None:
        if error.fatal():
            self._fatal = describe(error)
        if error.code() == ck.KafkaError._ALL_BROKERS_DOWN and not self._brokers_down:
            self._brokers_down = True
            log.warning("kafka consumer %s/%s: %s", self._group, self._topic, describe(error))
        else:
            log.debug("kafka consumer %s/%s: %s", self._group, self._topic, describe(error))

    def _on_assign(self, _consumer: ck.Consumer, partitions: list[ck.TopicPartition]) -> None:
        stored = self._stored(partitions)
        self._ledger.assign({key: stored.get(key) for key in _keys(partitions)})

    def _stored(self, partitions: list[ck.TopicPartition]) -> dict[TopicPartitionKey, Stored]:
        """The group's committed offsets (with their metadata) for newly assigned partitions."""
        try:
            result = self._consumer.committed(partitions, timeout=self._timeout_s)
        except ck.KafkaException as exc:
            # Records acked past the committed offset by the previous owner may come back.
            log.warning("kafka consumer %s: reading committed offsets failed: %s",
                        self._group, describe(exc))
            return {}
        return {
            (tp.topic, tp.partition): (tp.offset, tp.metadata or "")
            for tp in result
            if tp.error is None and tp.offset >= 0
        }

    def _on_revoke(self, _consumer: ck.Consumer, partitions: list[ck.TopicPartition]) -> None:
        keys = _keys(partitions)
        if not self._closed:  # close() committed already, right before leaving
            try:
                self._commit(self._ledger.uncommitted(keys))
            except BrokerUnavailable as exc:
                log.warning("kafka consumer %s: commit on revoke failed: %s", self._group, exc)
        self._ledger.revoke(keys)

    def _on_lost(self, _consumer: ck.Consumer, partitions: list[ck.TopicPartition]) -> None:
        # Another member may own them already: committing now could overwrite its progress.
        self._ledger.revoke(_keys(partitions))

    # -- the contract ------------------------------------------------------------------------

    def poll(self, max_records: int, timeout_s: float) -> list[Delivery]:
        if self._closed:
            raise RuntimeError("poll on a closed KafkaConsumer")
        if self._fatal is not None:
            raise unavailable(self._config, f"consumer failed: {self._fatal}")
        if max_records <= 0:
            return []
        deadline = time.monotonic() + max(0.0, timeout_s)
        deliveries: list[Delivery] = []
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                # Wait for the first record only; then take what is already fetched, so a
                # poll never waits for a full batch while records are ready.
                first = self._consumer.poll(remaining)
                batch = self._deliveries([first] if first is not None else [])
                if first is not None and max_records > 1:
                    rest = self._consumer.consume(max_records - 1, 0)
                    # A rebalance served inside consume() may have revoked `first`'s partition;
                    # handing it out would only produce an ack that is ignored.
                    batch = [d for d in batch if self._ledger.is_current(d.handle)]
                    batch += self._deliveries(rest)
            except ck.KafkaException as exc:
                raise unavailable(self._config, describe(exc)) from exc
            deliveries += batch
            if deliveries or remaining <= 0:
                break
        if deliveries:
            self._brokers_down = False
        elif self._brokers_down:
            clients.reachable(self._consumer, self._config, self._timeout_s)
            self._brokers_down = False
        return deliveries

    def _deliveries(self, messages: list[ck.Message]) -> list[Delivery]:
        deliveries: list[Delivery] = []
        for message in messages:
            error = message.error()
            if error is not None:
                self._on_message_error(error)
                continue
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            assert topic is not None and partition is not None and offset is not None
            handle = self._ledger.handed_out(topic, partition, offset)
            if handle is None:  # partition revoked meanwhile, or acked by its earlier owner
                continue
            deliveries.append(Delivery(message.value() or b"", message.key(), handle))
        return deliveries

    def _on_message_error(self, error: ck.KafkaError) -> None:
        if error.code() == ck.KafkaError._PARTITION_EOF:
            return
        if error.fatal():
            self._fatal = describe(error)
            raise unavailable(self._config, f"consumer failed: {self._fatal}")
        level = logging.DEBUG if error.retriable() else logging.WARNING
        log.log(level, "kafka consumer %s/%s: %s", self._group, self._topic, describe(error))

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Commit the acked prefix of the deliveries' partitions.

        Deliveries of partitions revoked since they were polled (or of a closed consumer) are
        ignored without error: their records are redelivered to the partition's owner.
        """
        if self._closed:
            return
        touched: set[TopicPartitionKey] = set()
        for delivery in deliveries:
            handle = delivery.handle
            if isinstance(handle, Handle) and self._ledger.ack(handle):
                touched.add((handle.topic, handle.partition))
        if touched:
            self._commit(self._ledger.uncommitted(sorted(touched)))

    def _commit(self, offsets: dict[TopicPartitionKey, Stored]) -> None:
        if not offsets:
            return
        if self._brokers_down:
            # A commit waits for the group coordinator up to the session timeout; when the
            # cluster was seen down, ask it first, within the configured timeout.
            clients.reachable(self._consumer, self._config, self._timeout_s)
            self._brokers_down = False
        request = [
            ck.TopicPartition(topic, partition, offset, metadata)
            if metadata
            else ck.TopicPartition(topic, partition, offset)  # librdkafka refuses None here
            for (topic, partition), (offset, metadata) in offsets.items()
        ]
        try:
            result = self._consumer.commit(offsets=request, asynchronous=False)
        except ck.KafkaException as exc:
            error = exc.args[0] if exc.args else None
            code = error.code() if isinstance(error, ck.KafkaError) else None
            if code == ck.KafkaError._NO_OFFSET:
                return
            if code in _OWNERSHIP_CHANGING:
                log.info("kafka consumer %s: commit skipped, %s", self._group, describe(exc))
                return
            raise unavailable(self._config, f"commit failed: {describe(exc)}") from exc
        self._ledger.committed(
            {key: state for key, state in offsets.items() if key not in _failed_keys(result)}
        )
        failed = [tp.error for tp in result if tp.error is not None]
        too_large = ck.KafkaError.OFFSET_METADATA_TOO_LARGE
        if any(error.code() == too_large for error in failed) and self._ledger.metadata_limit:
            log.warning(
                "kafka consumer %s: the cluster refuses commit metadata; acks past an un-acked "
                "record will not survive a rebalance", self._group
            )
            self._ledger.metadata_limit = 0
            self._commit(self._ledger.uncommitted(sorted(_failed_keys(result))))
            return
        if failed and not all(e.code() in _OWNERSHIP_CHANGING for e in failed):
            raise unavailable(self._config, f"commit failed: {describe(failed[0])}")

    def close(self) -> None:
        """Commit the acked prefix and leave the group; un-acked records go to the group."""
        if self._closed:
            return
        self._closed = True
        try:
            self._commit(self._ledger.uncommitted())
        except BrokerUnavailable as exc:
            log.warning("kafka consumer %s: commit on close failed: %s", self._group, exc)
        finally:
            self._consumer.close()
