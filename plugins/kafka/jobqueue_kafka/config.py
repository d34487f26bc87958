"""The Kafka queue config (the original service's shape) and its validation.

``queue_config.config`` of a Kafka job is ``{cluster_address, topic, config}``: where the
cluster is, the job's main topic, and librdkafka settings passed through unchanged (SASL, SSL,
timeouts...). Shape is checked by msgspec; the librdkafka settings are checked by librdkafka
itself, so a typo in a key is reported before any connection is made.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

import msgspec
from confluent_kafka import KafkaException, Producer

from jobqueue.contract import REDACTED, BrokerConfig
from jobqueue.errors import BrokerConfigError

BROKER_NAME = "kafka"

TopicName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=249,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="a Kafka topic name: letters, digits, '.', '_', '-'; at most 249",
    ),
]
HostPort = Annotated[str, msgspec.Meta(min_length=1, pattern=r"^\S+:\d+$")]

# librdkafka keys whose value is a credential: masked by `KafkaConfig.redacted`.
_SECRET_KEY = re.compile(r"password|secret|ssl\.key\.pem|sasl\.oauthbearer\.config|credential")

# Keys the plugin sets itself because the broker contract depends on them; accepting them from
# a job would silently break at-least-once delivery or the consumer-group-per-job rule.
RESERVED_KEYS: dict[str, str] = {
    "bootstrap.servers": "set `cluster_address` instead",
    "metadata.broker.list": "set `cluster_address` instead",
    "group.id": "the consumer group is the job name",
    "enable.auto.commit": "jobqueue commits offsets itself, only for acked records",
    "enable.auto.offset.store": "jobqueue commits offsets itself, only for acked records",
    "enable.idempotence": "the producer is always idempotent",
    "acks": "the producer always uses acks=all",
    "request.required.acks": "the producer always uses acks=all",
    "transactional.id": "transactions are not used",
    # These make librdkafka load or run code on the dispatcher's host.
    "plugin.library.paths": "loading native code from a job config is not allowed",
    "ssl.engine.location": "loading native code from a job config is not allowed",
    "sasl.kerberos.kinit.cmd": "running commands from a job config is not allowed",
}


def is_secret_key(key: str) -> bool:
    """Whether librdkafka setting ``key`` holds a credential."""
    return _SECRET_KEY.search(key.lower()) is not None


class KafkaConfig(BrokerConfig, kw_only=True, forbid_unknown_fields=True):
    """``queue_config.config`` of a Kafka job.

    ``cluster_address``: bootstrap ``host:port`` list. ``topic``: the job's main topic.
    ``config``: librdkafka settings passed to every client (``sasl.*``, ``ssl.*``, timeouts).
    ``partitions`` / ``replication_factor``: used when `ensure_topics` creates a topic;
    ``replication_factor=-1`` takes the cluster's ``default.replication.factor``.
    """

    cluster_address: Annotated[list[HostPort], msgspec.Meta(min_length=1)]
    topic: TopicName
    config: dict[str, str | int | float | bool] = msgspec.field(default_factory=dict)
    partitions: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 6
    replication_factor: Annotated[int, msgspec.Meta(ge=-1, le=100)] = -1

    __secret_fields__: ClassVar[frozenset[str]] = frozenset()

    def main_topic(self) -> str:
        return self.topic

    def address(self) -> str:
        return ",".join(self.cluster_address)

    def redacted(self) -> dict[str, Any]:
        data = super().redacted()
        data["config"] = {
            key: (REDACTED if is_secret_key(key) and value != "" else value)
            for key, value in self.config.items()
        }
        return data


def validate(config: KafkaConfig) -> None:
    """Raise `BrokerConfigError` naming the first bad field of ``config``; no network I/O."""
    if config.replication_factor == 0:
        raise BrokerConfigError(
            BROKER_NAME, "must be >= 1, or -1 for the cluster default", "replication_factor"
        )
    for key in config.config:
        if key in RESERVED_KEYS:
            raise BrokerConfigError(
                BROKER_NAME, f"not allowed here: {RESERVED_KEYS[key]}", f"config.{key}"
            )
    if _librdkafka_rejects(config.config) is None:
        return
    # librdkafka names the canonical property (e.g. `request.required.acks` for `acks`), so
    # find the user's own key by checking them one at a time.
    for key, value in config.config.items():
        reason = _librdkafka_rejects({key: value})
        if reason is not None:
            if is_secret_key(key) and isinstance(value, str) and value:
                reason = reason.replace(value, REDACTED)
            raise BrokerConfigError(BROKER_NAME, reason, f"config.{key}")
    reason = _librdkafka_rejects(config.config) or "rejected by librdkafka"
    raise BrokerConfigError(BROKER_NAME, reason, "config")


def _librdkafka_rejects(settings: dict[str, str | int | float | bool]) -> str | None:
    """librdkafka's complaint about ``settings``, or None; builds a client that never connects."""
    try:
        # Without bootstrap.servers the client makes no connection; log_level 0 keeps the
        # "consumer property ignored by a producer" notes out of the logs.
        client = Producer({**settings, "log_level": 0})
    except KafkaException as exc:
        return str(exc.args[0].str()) if exc.args else str(exc)
    except (TypeError, ValueError) as exc:
        return str(exc)
    closer = getattr(client, "close", None)  # older confluent-kafka producers lack close()
    if closer is not None:
        closer()
    return None
