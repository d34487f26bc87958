"""`KafkaBroker`: the jobqueue broker contract on Kafka, through confluent-kafka (librdkafka)."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # where the typing stubs define it

from jobqueue.contract import Broker, BrokerConfig, BrokerContext, Capabilities
from jobqueue.errors import BrokerConfigError
from jobqueue_kafka import clients, settings
from jobqueue_kafka.config import BROKER_NAME, KafkaConfig, validate
from jobqueue_kafka.consumer import KafkaConsumer
from jobqueue_kafka.failures import describe, unavailable
from jobqueue_kafka.producer import KafkaProducer

# CreateTopics answers that mean the request itself is wrong, by the config field to blame.
_CONFIG_ERRORS = {
    ck.KafkaError.INVALID_REPLICATION_FACTOR: "replication_factor",
    ck.KafkaError.INVALID_PARTITIONS: "partitions",
    ck.KafkaError.TOPIC_EXCEPTION: "topic",
    ck.KafkaError.INVALID_CONFIG: "config",
    ck.KafkaError.POLICY_VIOLATION: "config",
    ck.KafkaError.TOPIC_AUTHORIZATION_FAILED: "config",
    ck.KafkaError.CLUSTER_AUTHORIZATION_FAILED: "config",
}


class KafkaBroker(Broker):
    """Producers, consumers and topic creation for one Kafka queue config.

    Construction validates the config (librdkafka settings included) without connecting;
    each producer and consumer opens its own connections, and raises `BrokerUnavailable`
    within ``context.timeout_s`` when the cluster does not answer.
    """

    name: ClassVar[str] = BROKER_NAME
    config_type: ClassVar[type[BrokerConfig]] = KafkaConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_payload_bytes=settings.MAX_PAYLOAD_BYTES,
        ordering="key",
        keyed=True,
        record_leases=False,  # deliveries move only with their partition
    )

    def __init__(self, config: BrokerConfig, context: BrokerContext | None = None) -> None:
        if not isinstance(config, KafkaConfig):
            raise BrokerConfigError(
                BROKER_NAME, f"expected a KafkaConfig, got {type(config).__name__}"
            )
        validate(config)
        super().__init__(config, context)
        self._kafka = config
        self._admin: AdminClient | None = None
        self._admin_lock = threading.Lock()

    @classmethod
    def parse_config(cls, raw: Any) -> KafkaConfig:
        """Validate shape and librdkafka settings, so a bad job config is refused when stored."""
        config = super().parse_config(raw)
        assert isinstance(config, KafkaConfig)
        validate(config)
        return config

    def producer(self, topic: str) -> KafkaProducer:
        return KafkaProducer(self._kafka, self.context, topic)

    def consumer(self, topic: str, group: str, *, lease_ms: int = 30_000) -> KafkaConsumer:
        """A member of consumer group ``group``; ``lease_ms`` becomes ``max.poll.interval.ms``
        (Kafka has no per-record lease, see `jobqueue_kafka.consumer`)."""
        return KafkaConsumer(self._kafka, self.context, topic, group, lease_ms)

    def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create the missing topics with the config's partitions and replication factor."""
        wanted = list(dict.fromkeys(topics))
        if not wanted:
            return
        admin = self._admin_client()
        timeout_s = self.context.timeout_s
        existing = clients.reachable(admin, self._kafka, timeout_s).topics
        missing = [topic for topic in wanted if topic not in existing]
        if not missing:
            return
        requests = [
            NewTopic(
                topic,
                num_partitions=self._kafka.partitions,
                replication_factor=self._kafka.replication_factor,
                config=dict(settings.TOPIC_SETTINGS),
            )
            for topic in missing
        ]
        futures = admin.create_topics(
            requests, operation_timeout=timeout_s, request_timeout=timeout_s
        )
        for topic, future in futures.items():
            self._created(topic, future, timeout_s)
        self._await_metadata(admin, missing, timeout_s)

    def _created(
        self, topic: str, future: concurrent.futures.Future[Any], timeout_s: float
    ) -> None:
        try:
            future.result(timeout=timeout_s + 5)
        except ck.KafkaException as exc:
            error = exc.args[0] if exc.args else None
            code = error.code() if isinstance(error, ck.KafkaError) else None
            if code == ck.KafkaError.TOPIC_ALREADY_EXISTS:
                return
            if code in _CONFIG_ERRORS:
                raise BrokerConfigError(
                    BROKER_NAME,
                    f"cannot create topic {topic!r} at {self._kafka.address()}: {describe(exc)}",
                    _CONFIG_ERRORS[code],
                ) from exc
            raise unavailable(self._kafka, f"creating topic {topic!r}: {describe(exc)}") from exc
        except concurrent.futures.TimeoutError as exc:
            raise unavailable(self._kafka, f"creating topic {topic!r} timed out") from exc

    def _await_metadata(self, admin: AdminClient, topics: list[str], timeout_s: float) -> None:
        """Wait until the cluster's metadata lists the new topics with a leader everywhere.

        A consumer that subscribes before its topic is visible would otherwise wait for
        librdkafka's next metadata refresh (minutes) before it sees any record.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            metadata = clients.reachable(admin, self._kafka, timeout_s)
            pending = [
                topic
                for topic in topics
                if topic not in metadata.topics
                or metadata.topics[topic].error is not None
                or any(p.leader < 0 for p in metadata.topics[topic].partitions.values())
            ]
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise unavailable(
                    self._kafka, f"created topics not visible in metadata: {', '.join(pending)}"
                )
            time.sleep(0.1)

    def _admin_client(self) -> AdminClient:
        with self._admin_lock:
            if self._admin is None:
                self._admin = AdminClient(settings.admin(self._kafka, self.context))
            return self._admin

    def close(self) -> None:
        with self._admin_lock:
            self._admin = None  # AdminClient has no close(); releasing it destroys the handle
