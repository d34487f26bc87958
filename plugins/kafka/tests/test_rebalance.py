"""A second consumer joins the group while the first holds un-acked records."""

from __future__ import annotations

import time
from collections import defaultdict

import confluent_kafka as ck

from jobqueue.contract import Delivery, Record
from jobqueue_kafka.ledger import Handle

from .conftest import BrokerMaker, Drain

GROUP = "rebalance"


def committed(address: str, topic: str) -> dict[int, int]:
    reader = ck.Consumer({"bootstrap.servers": address, "group.id": GROUP})
    try:
        result = reader.committed([ck.TopicPartition(topic, p) for p in range(3)], timeout=10)
    finally:
        reader.close()
    return {tp.partition: tp.offset for tp in result}


def partition_of(delivery: Delivery) -> int:
    assert isinstance(delivery.handle, Handle)
    return delivery.handle.partition


def test_joining_consumer_loses_nothing_and_duplicates_only_unacked(
    make_broker: BrokerMaker, kafka_address: str, topic: str, drain: Drain
) -> None:
    """After the rebalance every un-acked record is redelivered, no acked one is, and late
    acks of the first consumer's revoked deliveries are ignored without committing."""
    broker = make_broker(partitions=3)
    broker.ensure_topics([topic])
    everything = {f"m{i}".encode() for i in range(60)}
    producer = broker.producer(topic)
    producer.publish([Record(p, key=p[-1:]) for p in sorted(everything)])
    producer.close()

    first = broker.consumer(topic, GROUP)
    initial = drain(first, 60)
    assert {d.payload for d in initial} == everything
    per_partition: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in initial:
        per_partition[partition_of(delivery)].append(delivery)
    assert sorted(per_partition) == [0, 1, 2]
    acked = [d for items in per_partition.values() for d in items[: len(items) // 2]]
    held = [d for items in per_partition.values() for d in items[len(items) // 2 :]]
    first.ack(acked)
    before_join = committed(kafka_address, topic)

    second = broker.consumer(topic, GROUP)
    redelivered: dict[str, list[Delivery]] = {"first": [], "second": []}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # Both members must keep polling: the first one serves its revoke inside poll.
        redelivered["first"] += first.poll(100, 0.3)
        redelivered["second"] += second.poll(100, 0.3)
        seen = {d.payload for ds in redelivered.values() for d in ds}
        if redelivered["second"] and seen >= {d.payload for d in held}:
            break
    seen_again = [d.payload for ds in redelivered.values() for d in ds]
    assert redelivered["second"], "the joining consumer never got a partition"
    assert set(seen_again) == {d.payload for d in held}, "lost or duplicated-acked records"
    assert {d.payload for d in acked} | set(seen_again) == everything

    assert committed(kafka_address, topic) == before_join
    first.ack(held)  # stale: their partitions were revoked (and maybe reassigned) since
    assert committed(kafka_address, topic) == before_join

    first.ack(redelivered["first"])
    second.ack(redelivered["second"])
    ends = {p: items[-1].handle.offset + 1 for p, items in per_partition.items()}
    assert committed(kafka_address, topic) == ends
    first.close()
    second.close()
