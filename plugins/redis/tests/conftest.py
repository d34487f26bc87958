"""Fixtures: real redis-server processes (never a fake) and brokers connected to them.

If redis-server is missing or cannot start, the fixtures raise and every test using them
fails with the reason; nothing is skipped.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator

import pytest

from jobqueue.contract import BrokerContext
from jobqueue_redis import RedisBroker
from jobqueue_redis.testserver import RedisServer

BrokerFactory = Callable[..., RedisBroker]

_names = itertools.count()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One server shared by the tests that only need a working Redis (AOF on)."""
    with RedisServer(appendonly=True) as server:
        yield server


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server for one test, which may restart it, kill it or change its settings."""
    with RedisServer(appendonly=True) as server:
        yield server


@pytest.fixture
def stream() -> str:
    """A stream name no other test uses, so tests on the shared server stay independent."""
    return f"s{next(_names)}-{uuid.uuid4().hex[:8]}"


def _factory(server: RedisServer, stream: str) -> Iterator[BrokerFactory]:
    built: list[RedisBroker] = []

    def build(instance_id: str | None = None, **config: object) -> RedisBroker:
        context = BrokerContext(timeout_s=2.0)
        if instance_id is not None:
            context = BrokerContext(timeout_s=2.0, instance_id=instance_id)
        parsed = RedisBroker.parse_config({"url": server.url, "stream": stream, **config})
        broker = RedisBroker(parsed, context)
        built.append(broker)
        return broker

    yield build
    for broker in built:
        broker.close()


@pytest.fixture
def brokers(redis_server: RedisServer, stream: str) -> Iterator[BrokerFactory]:
    """Builds brokers on the shared server: ``brokers(instance_id=None, **config_fields)``."""
    yield from _factory(redis_server, stream)


@pytest.fixture
def own_brokers(own_server: RedisServer, stream: str) -> Iterator[BrokerFactory]:
    """Builds brokers on the test's own server."""
    yield from _factory(own_server, stream)


@pytest.fixture
def broker(brokers: BrokerFactory) -> RedisBroker:
    return brokers()
