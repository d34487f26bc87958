"""The broker contract: what a broker plugin implements, and nothing more.

Kept small, synchronous and easy to implement; the dispatcher builds retries, backoff,
visibility timeouts and the dead-letter queue on top of it, the same way for every broker.

Rules every implementation follows (the conformance suite in `jobqueue.testing` checks them):

* ``Producer.publish`` returns only once the broker has durably accepted *every* record, and
  raises `PublishFailed` (listing the indexes not accepted) or `BrokerUnavailable` otherwise.
* ``Consumer.poll`` returns at most ``max_records`` deliveries, waiting at most ``timeout_s``
  (plus a small constant) when nothing is there.
* ``Consumer.ack`` means "never hand this delivery out again". Acks may come out of order; a
  plugin never commits past an un-acked delivery. Whatever was polled and not acked before
  ``close()`` or a crash is delivered again to this or another consumer of the group
  (at-least-once). A delivery not acked within ``lease_ms`` may be handed to another consumer.
* ``Consumer.extend`` restarts the lease of deliveries the caller still works on. Brokers
  without per-record leases (``capabilities.record_leases`` false: Kafka partitions, Kinesis
  shards) keep the inherited no-op: their deliveries only move with their partition or shard.
* Consumers of one group on one topic share the work; different groups each get every record.
* Calls on one consumer (or one producer) are never concurrent: the caller serializes them.
  Different consumers and producers of one broker may be used from different threads.
* Errors are `BrokerUnavailable` (retryable) or `BrokerConfigError`, naming broker and address.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import msgspec

from jobqueue.errors import BrokerConfigError

REDACTED = "********"


class Record(msgspec.Struct, frozen=True):
    """One record to publish: the payload bytes and an optional ordering key."""

    payload: bytes
    key: bytes | None = None


@dataclass(slots=True)
class Delivery:
    """One record handed out by a consumer; ``handle`` is the plugin's own, opaque to callers."""

    payload: bytes
    key: bytes | None
    handle: Any


class Capabilities(msgspec.Struct, frozen=True):
    """What a broker can do; the conformance suite skips by these declarations, never silently.

    ``ordering``: ``"key"`` = records with one key are delivered in publish order; ``"topic"`` =
    the whole topic is ordered; ``"none"`` = no ordering promise.

    ``record_leases``: each delivery has its own lease (``lease_ms``), after which another
    consumer of the group may get it although its consumer is alive; ``Consumer.extend``
    renews it. False when deliveries only change hands with a partition or shard.
    """

    max_payload_bytes: int
    ordering: Literal["key", "topic", "none"] = "key"
    keyed: bool = True
    record_leases: bool = True


class BrokerContext(msgspec.Struct, frozen=True, kw_only=True):
    """What the host process tells a broker about where it runs.

    ``data_dir``: where a broker may keep local files (the embedded broker's default file).
    ``instance_id``: unique per process, for consumer names that must differ between hosts.
    ``timeout_s``: how long a connection attempt may take before `BrokerUnavailable`.
    """

    data_dir: str = ".jobqueue"
    instance_id: str = msgspec.field(default_factory=lambda: uuid.uuid4().hex[:12])
    timeout_s: float = 10.0


class BrokerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of a broker's ``queue_config.config`` type.

    A subclass declares its fields (msgspec validates them), names the fields holding secrets
    in ``__secret_fields__`` and says which topic is the job's main one.
    """

    __secret_fields__: ClassVar[frozenset[str]] = frozenset()

    def main_topic(self) -> str:
        """The topic a producer job writes and a consumer job reads."""
        raise NotImplementedError

    def address(self) -> str:
        """Where the broker is, for error messages and logs (never with credentials)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.redacted().items())
        return f"{type(self).__name__}({fields})"

    def redacted(self) -> dict[str, Any]:
        """The config as builtins with every secret replaced, safe to return or log."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        for field in self.__secret_fields__:
            if data.get(field):
                data[field] = REDACTED
        return data


class Producer(ABC):
    @abstractmethod
    def publish(self, records: Sequence[Record]) -> None:
        """Durably write every record to the topic, or raise."""

    @abstractmethod
    def close(self) -> None: ...


class Consumer(ABC):
    @abstractmethod
    def poll(self, max_records: int, timeout_s: float) -> list[Delivery]:
        """Up to ``max_records`` deliveries; an empty list once ``timeout_s`` passed without any."""

    @abstractmethod
    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Never hand these deliveries out again (in any order)."""

    def extend(self, deliveries: Sequence[Delivery]) -> None:
        """Restart the lease of these deliveries: no other consumer gets them for ``lease_ms``
        from now. A delivery whose lease already went to another consumer stays there.

        Brokers with ``record_leases`` override this; without them it has nothing to do.
        """
        return None

    @abstractmethod
    def close(self) -> None:
        """Stop consuming; un-acked deliveries become available to the group again."""


class Broker(ABC):
    """A connection to one broker for one queue config; makes producers and consumers."""

    name: ClassVar[str]
    config_type: ClassVar[type[BrokerConfig]]
    capabilities: ClassVar[Capabilities]

    def __init__(self, config: BrokerConfig, context: BrokerContext | None = None) -> None:
        self.config = config
        self.context = context or BrokerContext()

    @classmethod
    def parse_config(cls, raw: Any) -> BrokerConfig:
        """Validate a raw ``queue_config.config`` into this broker's config type."""
        try:
            return msgspec.convert(raw, cls.config_type)
        except msgspec.ValidationError as exc:
            from jobqueue.models.decoding import split_validation_error

            field, reason = split_validation_error(str(exc))
            raise BrokerConfigError(cls.name, reason, field) from exc

    @abstractmethod
    def producer(self, topic: str) -> Producer: ...

    @abstractmethod
    def consumer(self, topic: str, group: str, *, lease_ms: int = 30_000) -> Consumer: ...

    @abstractmethod
    def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create the topics that are missing; idempotent."""

    def close(self) -> None:
        """Release what the broker holds beyond its producers and consumers."""
        return None
