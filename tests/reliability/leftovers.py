"""What a job's consumer group still has to deliver, read straight from the broker.

The HTTP side cannot tell "acked" from "lost" when a worker's ack got no reply (the
dispatcher died mid-request): both look like a message never seen again. The broker can: a
fresh member of the job's group, opened through the plugin contract after the services
stopped, must find nothing un-acked on the job's main and retry topics. For Kafka, whose
group joins take seconds, the same question is asked of the offsets: the group's committed
offset must be the end of every partition.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import msgspec

from jobqueue.contract import BrokerContext
from jobqueue.dispatcher.records import RetryRecord, retry_topic
from jobqueue.plugins import load_brokers


def unacked(
    queue_config: dict[str, Any], job: str, data_dir: Path, *, watch_s: float = 1.5
) -> list[bytes]:
    """Payloads the group ``job`` could still receive from the main topic and retry queue
    0, watched for ``watch_s`` (leases of a killed dispatcher must have run out by then)."""
    if queue_config["type"] == "kafka":
        config = queue_config["config"]
        lag = kafka_lag(config["cluster_address"][0], job, [config["topic"], retry_topic(job, 0)])
        return [f"{partition}: {count} not committed".encode() for partition, count in lag.items()]
    broker_cls = load_brokers().get(queue_config["type"])
    config = broker_cls.parse_config(queue_config["config"])
    broker = broker_cls(config, BrokerContext(data_dir=str(data_dir), timeout_s=10.0))
    found: list[bytes] = []
    try:
        for topic in (config.main_topic(), retry_topic(job, 0)):
            consumer = broker.consumer(topic, job, lease_ms=100)
            try:
                deadline = time.monotonic() + watch_s
                while time.monotonic() < deadline:
                    found += [d.payload for d in consumer.poll(100, 0.5)]
            finally:
                consumer.close()
    finally:
        broker.close()
    return found


def kafka_lag(address: str, group: str, topics: list[str]) -> dict[str, int]:
    """Records past ``group``'s committed offset, per ``topic[partition]`` that has any."""
    import confluent_kafka as ck

    reader = ck.Consumer({"bootstrap.servers": address, "group.id": group})
    try:
        partitions = [
            ck.TopicPartition(topic, p)
            for topic in topics
            for p in reader.list_topics(topic, timeout=10).topics[topic].partitions
        ]
        lag: dict[str, int] = {}
        for tp in reader.committed(partitions, timeout=10):
            low, high = reader.get_watermark_offsets(tp, timeout=10)
            start = tp.offset if tp.offset >= 0 else low
            if high > start:
                lag[f"{tp.topic}[{tp.partition}]"] = high - start
        return lag
    finally:
        reader.close()


def retry_copies_of_acked(
    payloads: list[bytes], acked: Collection[int]
) -> tuple[list[bytes], list[bytes]]:
    """Split leftovers into (the rest, retry-queue copies of messages that were acked).

    A broker killed while it answers a write may have stored it without the dispatcher
    learning so: the retry copy of a message whose move to the retry queue "failed" stays
    there after the worker acked the original. A duplicate to come, not a loss.
    """
    rest: list[bytes] = []
    copies: list[bytes] = []
    for payload in payloads:
        try:
            record = msgspec.json.decode(payload, type=RetryRecord)
        except msgspec.DecodeError:  # a main-topic message, not a retry record
            rest.append(payload)
            continue
        (copies if record.message.id in acked else rest).append(payload)
    return rest, copies
