"""The dispatcher's end-to-end lifecycle tests (tests/e2e/test_lifecycle.py), on Redis.

The same test functions run against a real `jobqueue dev` process whose jobs use the Redis
broker on a real redis-server; only the broker fixtures differ from the SQLite run (which
lives in tests/e2e and parametrizes ``broker_kind`` with "sqlite" only).
"""

from __future__ import annotations

import pytest

from jobqueue_redis.testserver import RedisServer
from tests.e2e.conftest import QueueConfigFactory, api, consumer_job, job_name, stack
from tests.e2e.test_lifecycle import *  # noqa: F403  (the tests themselves)

__all__ = ["api", "consumer_job", "job_name", "stack"]


@pytest.fixture
def broker_kind() -> str:
    return "redis"


@pytest.fixture
def queue_config(redis_server: RedisServer) -> QueueConfigFactory:
    return lambda topic: {"type": "redis", "config": {"url": redis_server.url, "stream": topic}}
