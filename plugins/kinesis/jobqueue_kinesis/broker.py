"""`KinesisBroker`: the plugin's entry into the broker contract.

Each topic is a Kinesis stream; a group's progress on a stream lives in the lease table. The
broker owns the boto3 clients its producers and consumers share; building it sends nothing,
so a broker for an unreachable endpoint fails on first use, with `BrokerUnavailable`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from jobqueue.contract import Broker, BrokerConfig, BrokerContext, Capabilities
from jobqueue.errors import BrokerConfigError
from jobqueue_kinesis.batching import MAX_RECORD_BYTES
from jobqueue_kinesis.clients import make_clients
from jobqueue_kinesis.config import BROKER_NAME, KinesisConfig
from jobqueue_kinesis.consumer import KinesisConsumer
from jobqueue_kinesis.keys import MAX_PARTITION_KEY_CHARS
from jobqueue_kinesis.leases import LeaseTable
from jobqueue_kinesis.producer import KinesisProducer
from jobqueue_kinesis.provisioning import ensure_lease_table, ensure_streams

_STREAM_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
# A partition key counts towards the 1 MiB record limit: up to 256 characters of UTF-8.
MAX_PAYLOAD_BYTES = MAX_RECORD_BYTES - 4 * MAX_PARTITION_KEY_CHARS


class KinesisBroker(Broker):
    """AWS Kinesis Data Streams, with shard leases and checkpoints in DynamoDB."""

    name = BROKER_NAME
    config_type = KinesisConfig
    capabilities = Capabilities(
        max_payload_bytes=MAX_PAYLOAD_BYTES,
        ordering="key",
        keyed=True,
        record_leases=False,  # deliveries move only with their shard's lease
    )

    def __init__(self, config: BrokerConfig, context: BrokerContext | None = None) -> None:
        if not isinstance(config, KinesisConfig):
            raise BrokerConfigError(BROKER_NAME, f"expected KinesisConfig, got {type(config)}")
        super().__init__(config, context)
        self.settings = config
        self.clients = make_clients(config, self.context)

    def producer(self, topic: str) -> KinesisProducer:
        return KinesisProducer(
            self.clients, _stream(topic), attempts=self.settings.publish_attempts
        )

    def consumer(self, topic: str, group: str, *, lease_ms: int = 30_000) -> KinesisConsumer:
        if not group:
            raise BrokerConfigError(BROKER_NAME, "must not be empty", "group")
        if lease_ms < 100:
            raise BrokerConfigError(BROKER_NAME, f"{lease_ms} is below 100 ms", "lease_ms")
        stream = _stream(topic)
        leases = LeaseTable(self.clients, self.settings.lease_table_name(), group, stream)
        return KinesisConsumer(
            self.clients,
            leases,
            stream,
            owner_prefix=self.context.instance_id,
            lease_ms=lease_ms,
            idle_poll_s=self.settings.idle_poll_ms / 1000,
        )

    def ensure_topics(self, topics: Sequence[str]) -> None:
        streams = [_stream(topic) for topic in topics]
        ensure_streams(
            self.clients.kinesis, self.clients.kinesis_address, streams, self.settings.shard_count
        )
        ensure_lease_table(
            self.clients.dynamodb, self.clients.dynamodb_address, self.settings.lease_table_name()
        )

    def close(self) -> None:
        self.clients.close()


def _stream(topic: str) -> str:
    if not _STREAM_NAME.match(topic):
        raise BrokerConfigError(
            BROKER_NAME,
            f"{topic!r} is not a Kinesis stream name (1-128 of a-z, A-Z, 0-9, _ . -)",
            "topic",
        )
    return topic
