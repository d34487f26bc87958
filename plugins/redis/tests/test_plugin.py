"""The installed distribution registers the broker through the `jobqueue` entry point."""

from __future__ import annotations

import importlib.metadata

from jobqueue.plugins import load_brokers
from jobqueue_redis import RedisBroker


def test_entry_point_declared() -> None:
    """jobqueue-redis declares `redis = jobqueue_redis.plugin` in the `jobqueue` group."""
    entry_points = importlib.metadata.distribution("jobqueue-redis").entry_points
    assert [(ep.group, ep.name, ep.value) for ep in entry_points] == [
        ("jobqueue", "redis", "jobqueue_redis.plugin")
    ]


def test_load_brokers_finds_redis() -> None:
    """Plugin discovery registers RedisBroker under "redis" from distribution jobqueue-redis."""
    registry = load_brokers()
    info = registry.brokers["redis"]
    assert info.cls is RedisBroker
    assert info.distribution == "jobqueue-redis"
    assert registry.parse_config("redis", {"url": "redis://h", "stream": "s"}).main_topic() == "s"
