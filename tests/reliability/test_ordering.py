"""The ordering scope through the dispatcher: messages with one external_id (the broker key)
reach a worker in publish order, on every broker with a keyed order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jobqueue.testing.processes import DevStack
from tests.e2e.conftest import DEV_ARGS, Api
from tests.reliability.conftest import QueueConfig, kafka_config, redis_config, sqlite_config

KEYS = ("alpha", "beta", "gamma")
PER_KEY = 30


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    stack = DevStack(tmp_path_factory.mktemp("order"), *DEV_ARGS).start()
    yield stack
    assert stack.stop() == 0, stack.log()


@pytest.fixture(params=["sqlite", "redis", "kafka"])
def broker(request: pytest.FixtureRequest) -> tuple[str, QueueConfig]:
    if request.param == "sqlite":
        return "sqlite", sqlite_config
    if request.param == "redis":
        return "redis", redis_config(request.getfixturevalue("redis_server").url)
    return "kafka", kafka_config(request.getfixturevalue("kafka_address"), partitions=3)


def test_one_key_is_delivered_in_publish_order(
    dev: DevStack, broker: tuple[str, QueueConfig]
) -> None:
    """Three keys interleaved over batches (over 3 partitions on Kafka), polled in small
    batches and acked: per key, the worker sees exactly the publish order."""
    kind, config = broker
    job = f"order-{kind}"
    api = Api(dev.controller_url, dev.dispatcher_url)
    try:
        api.create_job(job, config(job))
        api.start_job(job)
        api.subscribe(job)
        published: dict[str, list[int]] = {key: [] for key in KEYS}
        for start in range(0, PER_KEY, 5):
            msgs: list[dict[str, Any]] = [
                {"external_id": key, "data": n} for n in range(start, start + 5) for key in KEYS
            ]
            ids = api.publish(job, msgs)
            for msg, msg_id in zip(msgs, ids, strict=True):
                published[msg["external_id"]].append(msg_id)
        seen: dict[str, list[int]] = {key: [] for key in KEYS}
        got: list[dict[str, Any]] = []
        while len(got) < PER_KEY * len(KEYS):
            batch = api.poll_until(job, 1, max_messages=7)
            got += batch
            for msg in batch:
                seen[msg["external_id"]].append(msg["id"])
            assert api.ack(job, [m["id"] for m in batch])["bad_ids"] == []
    finally:
        api.close()
    assert seen == published
