"""`RedisBroker`: one connection pool to one Redis server, making producers and consumers.

Every topic is a stream under the key ``jobqueue:{<stream>}:<topic>`` (see `RedisConfig.key`),
so all of a job's streams share one Redis Cluster hash slot. redis-py's own retries are off:
a failure surfaces at once as `BrokerUnavailable` and the dispatcher decides when to retry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from jobqueue.contract import Broker, BrokerConfig, BrokerContext, Capabilities
from jobqueue.errors import BrokerConfigError
from jobqueue_redis._errors import describe, translated
from jobqueue_redis.config import BROKER_NAME, RedisConfig
from jobqueue_redis.consumer import BLOCK_SLICE_S, RedisConsumer
from jobqueue_redis.producer import RedisProducer
from jobqueue_redis.scripts import Scripts, run

# Redis itself takes values up to 512 MiB; far below that, one entry already costs the server
# a large, slow allocation, so the declared limit stays modest.
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024


class RedisBroker(Broker):
    """Redis Streams: ``XADD`` to publish, consumer groups with ``XAUTOCLAIM`` to consume."""

    name: ClassVar[str] = BROKER_NAME
    config_type: ClassVar[type[BrokerConfig]] = RedisConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_payload_bytes=MAX_PAYLOAD_BYTES, ordering="topic", keyed=True
    )

    def __init__(self, config: BrokerConfig, context: BrokerContext | None = None) -> None:
        super().__init__(config, context)
        if not isinstance(config, RedisConfig):
            raise BrokerConfigError(BROKER_NAME, f"expected a RedisConfig, got {type(config)}")
        self._config = config
        timeout_s = self.context.timeout_s
        try:
            self._client = redis.Redis.from_url(
                config.url,
                socket_connect_timeout=timeout_s,
                # A blocking read waits up to one slice before the server answers.
                socket_timeout=timeout_s + BLOCK_SLICE_S,
                retry=Retry(NoBackoff(), 0),
                client_name=_client_name(self.context.instance_id),
            )
        except ValueError as exc:  # an unparsable query option in the URL
            reason = f"bad URL option: {describe(exc, config.secrets())}"
            raise BrokerConfigError(BROKER_NAME, reason, "url") from None
        socket_timeout = self._client.connection_pool.connection_kwargs.get("socket_timeout")
        if socket_timeout is not None and socket_timeout <= BLOCK_SLICE_S:
            # Set in the URL, it would cut blocking reads short and fail every idle poll.
            raise BrokerConfigError(
                BROKER_NAME, f"socket_timeout must be more than {BLOCK_SLICE_S:g} s", "url"
            )
        self._scripts = Scripts(self._client)

    def producer(self, topic: str) -> RedisProducer:
        return RedisProducer(self._client, self._config, _checked("topic", topic))

    def consumer(self, topic: str, group: str, *, lease_ms: int = 30_000) -> RedisConsumer:
        if lease_ms < 1:
            raise ValueError(f"lease_ms must be at least 1, got {lease_ms}")
        return RedisConsumer(
            self._client,
            self._scripts,
            self._config,
            _checked("topic", topic),
            _checked("group", group),
            lease_ms=lease_ms,
            instance_id=self.context.instance_id,
        )

    def ensure_topics(self, topics: Sequence[str]) -> None:
        keys = [self._config.key(_checked("topic", topic)) for topic in topics]
        with translated(self._config):
            for key in keys:
                try:
                    run(self._scripts.create_stream, [key], [])
                except redis.ResponseError as exc:
                    if "WRONGTYPE" not in str(exc):
                        raise
                    raise BrokerConfigError(
                        BROKER_NAME, f"{exc}; choose another stream name", "stream"
                    ) from None

    def close(self) -> None:
        self._client.close()


def _client_name(instance_id: str) -> str:
    """``CLIENT SETNAME`` refuses spaces and odd characters; keep the name readable anyway."""
    return "jobqueue-" + re.sub(r"[^A-Za-z0-9_.:-]", "_", instance_id)[:64]


def _checked(what: str, name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what} must be a non-empty string, got {name!r}")
    return name
