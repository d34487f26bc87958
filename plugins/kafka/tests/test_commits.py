"""Offsets committed for out-of-order acks, read back by a separate client with committed()."""

from __future__ import annotations

import random
from collections import defaultdict

import confluent_kafka as ck

from jobqueue.contract import Delivery, Record
from jobqueue_kafka.ledger import Handle

from .conftest import BrokerMaker, Drain

GROUP = "commits"


def committed(address: str, topic: str, partitions: list[int]) -> dict[int, int]:
    """The group's committed offsets, read by a client that never joins the group."""
    reader = ck.Consumer({"bootstrap.servers": address, "group.id": GROUP})
    try:
        result = reader.committed([ck.TopicPartition(topic, p) for p in partitions], timeout=10)
    finally:
        reader.close()
    return {tp.partition: tp.offset for tp in result}


def by_partition(deliveries: list[Delivery]) -> dict[int, list[Delivery]]:
    groups: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        assert isinstance(delivery.handle, Handle)
        groups[delivery.handle.partition].append(delivery)
    for items in groups.values():
        items.sort(key=lambda d: d.handle.offset)
    return groups


def test_out_of_order_acks_across_three_partitions_commit_the_acked_prefix(
    make_broker: BrokerMaker, kafka_address: str, topic: str, drain: Drain
) -> None:
    """Per partition, the committed offset stops at the first un-acked record."""
    broker = make_broker(partitions=3)
    broker.ensure_topics([topic])
    producer = broker.producer(topic)
    producer.publish([Record(f"m{i}".encode(), key=f"k{i % 12}".encode()) for i in range(60)])
    producer.close()
    consumer = broker.consumer(topic, GROUP)
    got = by_partition(drain(consumer, 60))
    assert sorted(got) == [0, 1, 2], "the keys should spread over all three partitions"
    assert all(len(items) >= 4 for items in got.values())

    # Partition 0: everything but its first record; 1: all but the third; 2: all of them.
    held = {0: got[0][0], 1: got[1][2]}
    acks = [d for items in got.values() for d in items if d not in held.values()]
    random.Random(7).shuffle(acks)
    for start in range(0, len(acks), 7):
        consumer.ack(acks[start : start + 7])

    offsets = committed(kafka_address, topic, [0, 1, 2])
    assert offsets[0] == held[0].handle.offset  # not past an un-acked first record
    assert offsets[1] == held[1].handle.offset
    assert offsets[2] == got[2][-1].handle.offset + 1

    consumer.ack(list(held.values()))
    offsets = committed(kafka_address, topic, [0, 1, 2])
    assert offsets == {p: items[-1].handle.offset + 1 for p, items in got.items()}
    consumer.close()
