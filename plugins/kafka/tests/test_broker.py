"""KafkaBroker against a real Kafka-protocol broker: topics, publish, consume, close."""

from __future__ import annotations

import os

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import AdminClient

from jobqueue.contract import Record
from jobqueue.errors import PublishFailed

from .conftest import BrokerMaker, Drain


def test_ensure_topics_creates_with_configured_partitions(
    make_broker: BrokerMaker, kafka_address: str, topic: str
) -> None:
    """Missing topics are created with `partitions`; calling again is a no-op."""
    broker = make_broker(partitions=3)
    broker.ensure_topics([topic, f"{topic}_dlq", topic])
    broker.ensure_topics([topic, f"{topic}_dlq"])
    metadata = AdminClient({"bootstrap.servers": kafka_address}).list_topics(timeout=10)
    assert len(metadata.topics[topic].partitions) == 3
    assert len(metadata.topics[f"{topic}_dlq"].partitions) == 3


def test_records_round_trip_with_keys_and_large_binary_payloads(
    make_broker: BrokerMaker, topic: str, drain: Drain
) -> None:
    """Payload bytes and keys come back unchanged, including a 1 MiB binary payload."""
    broker = make_broker(partitions=2)
    broker.ensure_topics([topic])
    big = os.urandom(broker.capabilities.max_payload_bytes)
    records = [Record(b"\x00first"), Record(b"second", key=b"k1"), Record(big, key=b"big")]
    producer = broker.producer(topic)
    producer.publish(records)
    producer.close()
    consumer = broker.consumer(topic, "g")
    got = drain(consumer, 3)
    consumer.ack(got)
    consumer.close()
    assert sorted((d.payload, d.key) for d in got) == sorted((r.payload, r.key) for r in records)


def test_records_of_one_key_arrive_in_publish_order(
    make_broker: BrokerMaker, topic: str, drain: Drain
) -> None:
    """Per key, deliveries follow the publish order across several publish calls."""
    broker = make_broker(partitions=3)
    broker.ensure_topics([topic])
    producer = broker.producer(topic)
    for batch in range(3):
        producer.publish([Record(f"{k}:{batch}:{i}".encode(), key=k.encode())
                          for i in range(5) for k in ("a", "b", "c")])
    producer.close()
    consumer = broker.consumer(topic, "g")
    got = drain(consumer, 45)
    consumer.close()
    for key in ("a", "b", "c"):
        seen = [d.payload.decode() for d in got if d.key == key.encode()]
        expected = [f"{key}:{batch}:{i}" for batch in range(3) for i in range(5)]
        assert seen == expected


def test_publish_reports_the_indexes_that_failed(make_broker: BrokerMaker, topic: str) -> None:
    """A record over the size limit fails alone; the others are written and the index named."""
    broker = make_broker()
    broker.ensure_topics([topic])
    producer = broker.producer(topic)
    too_big = b"x" * (3 * 1024 * 1024)
    with pytest.raises(PublishFailed) as caught:
        producer.publish([Record(b"ok-0"), Record(too_big), Record(b"ok-2")])
    producer.close()
    assert caught.value.failed == [1]
    assert "kafka broker at" in str(caught.value)
    consumer = ck.Consumer(
        {"bootstrap.servers": broker.config.address(), "group.id": "peek",
         "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
         "heartbeat.interval.ms": 500}
    )
    consumer.subscribe([topic])
    payloads: list[bytes] = []
    for _ in range(60):
        payloads += [m.value() or b"" for m in consumer.consume(10, 0.5) if m.error() is None]
        if len(payloads) >= 2:
            break
    consumer.close()
    assert sorted(payloads) == [b"ok-0", b"ok-2"]


def test_unacked_records_return_after_close(
    make_broker: BrokerMaker, topic: str, drain: Drain
) -> None:
    """close() commits the acked prefix; the un-acked records go to the next consumer."""
    broker = make_broker(partitions=1)
    broker.ensure_topics([topic])
    producer = broker.producer(topic)
    producer.publish([Record(f"m{i}".encode()) for i in range(6)])
    producer.close()
    first = broker.consumer(topic, "g")
    got = drain(first, 6)
    assert [d.payload for d in got] == [f"m{i}".encode() for i in range(6)]
    first.ack([got[0], got[1], got[3]])  # m2 is not acked: m3 must come back too
    first.close()
    second = broker.consumer(topic, "g")
    again = drain(second, 4)
    assert [d.payload for d in again] == [b"m2", b"m3", b"m4", b"m5"]
    assert second.poll(10, 1.0) == []
    second.ack(again)
    second.close()


def test_each_group_gets_every_record(make_broker: BrokerMaker, topic: str, drain: Drain) -> None:
    """Two groups on one topic both receive all records (fan-out)."""
    broker = make_broker(partitions=2)
    broker.ensure_topics([topic])
    producer = broker.producer(topic)
    producer.publish([Record(f"m{i}".encode()) for i in range(10)])
    producer.close()
    for group in ("job-a", "job-b"):
        consumer = broker.consumer(topic, group)
        got = drain(consumer, 10)
        consumer.ack(got)
        consumer.close()
        assert sorted(d.payload for d in got) == sorted(f"m{i}".encode() for i in range(10))
