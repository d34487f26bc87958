"""Resharding: a child shard is read only once its parent is finished (SHARD_END).

moto closes a split parent but keeps routing writes to it (it matches the first shard whose
hash range fits, closed or not), so nothing ever lands in the children there. These tests
therefore check the lease side: children stay untaken while the parent has records in flight
and are taken once the parent is read to its end and acked; `test_balancer` covers the rule.
"""

from __future__ import annotations

from collections.abc import Callable

from jobqueue.contract import Record
from jobqueue.testing import collect_for, drain, payloads
from jobqueue_kinesis import KinesisBroker
from jobqueue_kinesis.leases import SHARD_END, LeaseTable

BrokerFactory = Callable[..., KinesisBroker]


def test_children_wait_for_the_parent_to_be_finished(brokers: BrokerFactory, stream: str) -> None:
    """After a split the children are taken only once every record of the parent is acked;
    the parent's lease then ends at SHARD_END and nothing is delivered twice."""
    broker = brokers(shard_count=1)
    broker.ensure_topics([stream])
    old = [f"old-{i}".encode() for i in range(5)]
    new = [f"new-{i}".encode() for i in range(5)]
    producer = broker.producer(stream)
    producer.publish([Record(payload, key=b"k") for payload in old])
    consumer = broker.consumer(stream, "g", lease_ms=3000)
    held = drain(consumer, len(old), 20.0)
    assert payloads(held) == old
    (parent,) = consumer.held_shards

    broker.clients.kinesis.split_shard(
        StreamName=stream, ShardToSplit=parent, NewStartingHashKey=str(2**127)
    )
    producer.publish([Record(payload, key=b"k") for payload in new])
    held += collect_for(consumer, 3.0)  # several balancing rounds

    assert payloads(held) == old + new
    assert consumer.held_shards == [parent], "a child was taken before its parent was finished"
    consumer.ack(held)
    assert collect_for(consumer, 2.0) == []

    children = consumer.held_shards
    assert len(children) == 2 and parent not in children
    leases = LeaseTable(broker.clients, broker.settings.lease_table_name(), "g", stream).list()
    assert leases[parent].checkpoint == SHARD_END
    assert leases[parent].owner is None
    consumer.close()


def test_a_new_group_reads_the_parent_before_the_children(
    brokers: BrokerFactory, stream: str
) -> None:
    """A group that starts after a split takes only the parent until it has finished it."""
    broker = brokers(shard_count=1)
    broker.ensure_topics([stream])
    sent = [f"rec-{i}".encode() for i in range(5)]
    broker.producer(stream).publish([Record(payload, key=b"k") for payload in sent])
    (parent,) = broker.clients.kinesis.list_shards(StreamName=stream)["Shards"]
    broker.clients.kinesis.split_shard(
        StreamName=stream, ShardToSplit=parent["ShardId"], NewStartingHashKey=str(2**127)
    )

    consumer = broker.consumer(stream, "late-group", lease_ms=3000)
    got = drain(consumer, len(sent), 20.0)
    assert payloads(got) == sent
    assert consumer.held_shards == [parent["ShardId"]]
    consumer.ack(got)
    assert collect_for(consumer, 2.0) == []
    assert len(consumer.held_shards) == 2 and parent["ShardId"] not in consumer.held_shards
    consumer.close()
