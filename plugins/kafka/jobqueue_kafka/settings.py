"""librdkafka settings for each kind of client, built from a job's `KafkaConfig`.

The job's own ``config`` passes through; on top of it go the settings the broker contract
depends on (idempotent producer, manual commits, the job's consumer group), which a job cannot
override (`jobqueue_kafka.config.RESERVED_KEYS`).
"""

from __future__ import annotations

import logging
from typing import Any

from jobqueue.contract import BrokerContext
from jobqueue_kafka.config import KafkaConfig

MAX_PAYLOAD_BYTES = 1024 * 1024
# Room above the payload limit for the key and the record batch overhead.
MAX_BATCH_BYTES = MAX_PAYLOAD_BYTES + 64 * 1024
# Applied to topics that `ensure_topics` creates, so a full-size payload fits on a cluster
# whose default is Kafka's 1 MB.
TOPIC_SETTINGS = {"max.message.bytes": str(MAX_BATCH_BYTES)}

_SESSION_TIMEOUT_MS = 45_000  # librdkafka's default session.timeout.ms
_MAX_POLL_INTERVAL_MS = 86_400_000  # librdkafka's upper bound for max.poll.interval.ms

LIBRDKAFKA_LOG = logging.getLogger("jobqueue_kafka.librdkafka")


class _QuietLibrdkafka(logging.Filter):
    """Keeps librdkafka's routine noise out of the service log.

    Drops the note that a consumer setting is ignored by a producer (and back): one job config
    feeds all three kinds of client, so it is expected. Demotes connection failures (``FAIL``)
    to DEBUG: librdkafka logs one per reconnect attempt, while the clients report an outage
    once, as a warning, from their error callback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        facility = args[0] if len(args) == 3 else None
        if facility == "CONFWARN" and "ignored" in str(args[2]):
            return False
        if facility == "FAIL" and record.levelno > logging.DEBUG:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


LIBRDKAFKA_LOG.addFilter(_QuietLibrdkafka())


def common(config: KafkaConfig, context: BrokerContext) -> dict[str, Any]:
    """Settings every client gets: where the cluster is, who we are, the job's passthrough."""
    settings: dict[str, Any] = {
        "bootstrap.servers": config.address(),
        "client.id": f"jobqueue-{context.instance_id}",
        "logger": LIBRDKAFKA_LOG,
    }
    settings.update(config.config)
    return settings


def producer(config: KafkaConfig, context: BrokerContext) -> dict[str, Any]:
    """An idempotent, acks=all producer whose deliveries time out within the context timeout."""
    settings = common(config, context)
    settings.setdefault("message.max.bytes", MAX_BATCH_BYTES)
    if not {"message.timeout.ms", "delivery.timeout.ms"} & config.config.keys():
        # librdkafka's default (5 minutes) would hold a publish far past any HTTP deadline.
        settings["message.timeout.ms"] = max(1000, int(context.timeout_s * 1000))
    settings.update({"enable.idempotence": True, "acks": "all"})
    return settings


def consumer(
    config: KafkaConfig, context: BrokerContext, group: str, lease_ms: int
) -> dict[str, Any]:
    """A group member that never commits on its own: offsets are committed for acks only.

    Kafka has no per-record lease; the nearest thing is ``max.poll.interval.ms``: a member
    that stops polling that long leaves the group and its un-acked records go to the others.
    It is set from ``lease_ms`` (librdkafka wants it at least ``session.timeout.ms``).
    """
    settings = common(config, context)
    settings.setdefault("auto.offset.reset", "earliest")
    if "max.poll.interval.ms" not in config.config:
        session_ms = int(config.config.get("session.timeout.ms", _SESSION_TIMEOUT_MS))
        settings["max.poll.interval.ms"] = min(_MAX_POLL_INTERVAL_MS, max(lease_ms, session_ms))
    settings.update(
        {"group.id": group, "enable.auto.commit": False, "enable.auto.offset.store": False}
    )
    return settings


def admin(config: KafkaConfig, context: BrokerContext) -> dict[str, Any]:
    """Settings of the AdminClient that creates topics."""
    return common(config, context)
