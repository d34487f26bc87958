"""Entry point of the Redis Streams broker (group ``jobqueue``, name ``redis``)."""

from __future__ import annotations

from jobqueue.hookspecs import RegisterBroker, hookimpl
from jobqueue_redis.broker import RedisBroker


@hookimpl
def jobqueue_register_brokers(register: RegisterBroker) -> None:
    register(RedisBroker)
