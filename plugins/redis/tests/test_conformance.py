"""The shared broker conformance suite, run against a real redis-server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobqueue.contract import Broker, BrokerContext
from jobqueue.testing import BrokerConformance
from jobqueue_redis import RedisBroker, RedisConfig
from jobqueue_redis.testserver import RedisServer, free_port


class TestRedisConformance(BrokerConformance):
    @pytest.fixture
    def broker_factory(self, redis_server: RedisServer) -> Callable[[], Broker]:
        config = RedisConfig(url=redis_server.url, stream="conformance")
        return lambda: RedisBroker(config, BrokerContext(timeout_s=2.0))

    @pytest.fixture
    def unreachable_broker_factory(self) -> Callable[[], Broker]:
        config = RedisConfig(url=f"redis://:secret@127.0.0.1:{free_port()}/0", stream="s")
        return lambda: RedisBroker(config, BrokerContext(timeout_s=2.0))
