"""Fixtures of the reliability tests: real broker servers and per-broker queue configs.

Servers are started here, never mocked; if one cannot start, the tests that need it fail
with the server's own error (they do not skip).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jobqueue_redis.testserver import RedisServer

QueueConfig = Callable[[str], dict[str, Any]]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis with an fsync-always AOF shared by the tests that do not restart it."""
    with RedisServer(appendonly=True) as server:
        yield server


@pytest.fixture(scope="session")
def kafka_address() -> Iterator[str]:
    from jobqueue_kafka.testserver import kafka_test_server

    with kafka_test_server() as server:
        yield server.address


def sqlite_config(topic: str) -> dict[str, Any]:
    return {"type": "sqlite", "config": {"topic": topic}}


def redis_config(url: str) -> QueueConfig:
    return lambda topic: {"type": "redis", "config": {"url": url, "stream": topic}}


def kafka_config(address: str, partitions: int = 1) -> QueueConfig:
    from jobqueue_kafka.testserver import GROUP_SETTINGS

    return lambda topic: {
        "type": "kafka",
        "config": {
            "cluster_address": [address],
            "topic": topic,
            "partitions": partitions,
            "config": dict(GROUP_SETTINGS),
        },
    }


@pytest.fixture(params=["sqlite", "redis"])
def queue_config(request: pytest.FixtureRequest) -> QueueConfig:
    """The embedded broker, then Redis (its server started once per session)."""
    if request.param == "sqlite":
        return sqlite_config
    server: RedisServer = request.getfixturevalue("redis_server")
    return redis_config(server.url)
