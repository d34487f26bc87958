"""Redis Streams broker plugin for jobqueue."""

from __future__ import annotations

from jobqueue_redis.broker import RedisBroker
from jobqueue_redis.config import RedisConfig

__all__ = ["RedisBroker", "RedisConfig"]
