"""End-to-end fixtures: a real `jobqueue dev` process and a thin HTTP client for both APIs.

The broker under test is a parameter: the same tests run on every broker whose server the
test setup can start (the embedded SQLite broker always).
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from jobqueue.testing.processes import DevStack

DEV_ARGS = ("--sync-interval", "0.2", "--lease-margin-ms", "1000", "--drain-timeout", "5")

QueueConfigFactory = Callable[[str], dict[str, Any]]


class Api:
    """The controller and worker APIs over real HTTP, returning parsed JSON (status checked)."""

    def __init__(self, controller_url: str, dispatcher_url: str) -> None:
        self.controller = httpx.Client(base_url=controller_url, timeout=30)
        self.dispatcher = httpx.Client(base_url=dispatcher_url, timeout=60)

    def close(self) -> None:
        self.controller.close()
        self.dispatcher.close()

    # controller
    def create_job(self, name: str, queue_config: dict[str, Any], **fields: Any) -> dict[str, Any]:
        body = {
            "name": name,
            "type": "consumer",
            "queue_config": queue_config,
            "retry_config": {"backoffs": [300, 600]},
            "max_processing_time_ms": 5000,
            **fields,
        }
        return dict(self._ok(self.controller.post("/api/v1/job/", json=body))["job"])

    def start_job(self, name: str) -> None:
        self._ok(self.controller.put(f"/api/v1/job/{name}/start/"))

    def stop_job(self, name: str) -> None:
        self._ok(self.controller.put(f"/api/v1/job/{name}/stop/"))

    def update_job(self, name: str, **fields: Any) -> dict[str, Any]:
        return dict(self._ok(self.controller.post(f"/api/v1/job/{name}/", json=fields))["job"])

    # dispatcher
    def worker(self, path: str, **body: Any) -> httpx.Response:
        return self.dispatcher.post(f"/api/v1/worker/{path}", json=body)

    def subscribe(self, name: str) -> None:
        self._ok(self.worker("subscribe", name=name))

    def publish(self, name: str, msgs: list[dict[str, Any]]) -> list[int]:
        ids: list[int] = self._ok(self.worker("publish", name=name, msgs=msgs))["ids"]
        return ids

    def poll(self, name: str, max_wait_ms: int = 0, max_messages: int = 10) -> list[dict[str, Any]]:
        reply = self.worker(
            "messages", name=name, max_wait_ms=max_wait_ms, max_messages=max_messages
        )
        return self._ok(reply)["msgs"]  # type: ignore[no-any-return]

    def poll_retry(self, name: str, queue: int, max_wait_ms: int = 0) -> list[dict[str, Any]]:
        reply = self.worker("messages/retry", name=name, retry_queue=queue, max_wait_ms=max_wait_ms)
        return self._ok(reply)["msgs"]  # type: ignore[no-any-return]

    def poll_dlq(self, name: str, max_wait_ms: int = 0) -> list[dict[str, Any]]:
        return self._ok(self.worker("messages/dlq", name=name, max_wait_ms=max_wait_ms))["msgs"]  # type: ignore[no-any-return]

    def ack(self, name: str, ids: list[int]) -> dict[str, Any]:
        return dict(self._ok(self.worker("ack", name=name, msg_ids=ids)))

    def nack(self, name: str, ids: list[int]) -> dict[str, Any]:
        return dict(self._ok(self.worker("nack", name=name, msg_ids=ids)))

    def poll_until(
        self,
        name: str,
        count: int,
        timeout_s: float = 30.0,
        path: str = "messages",
        max_messages: int = 100,
        **extra: Any,
    ) -> list[dict[str, Any]]:
        """Poll until ``count`` messages arrived (fails the test on timeout)."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < count and time.monotonic() < deadline:
            reply = self.worker(
                path, name=name, max_wait_ms=500, max_messages=max_messages, **extra
            )
            got += self._ok(reply)["msgs"]
        assert len(got) >= count, f"got {len(got)} of {count} messages within {timeout_s}s"
        return got

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        assert response.status_code == 200, (
            f"{response.request.url}: {response.status_code} {response.text}"
        )
        return response.json()


BROKERS = ["sqlite", "redis", "kafka", "kinesis"]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    from jobqueue_redis.testserver import RedisServer

    with RedisServer(appendonly=True) as server:
        yield server.url


@pytest.fixture(scope="session")
def kafka_address() -> Iterator[str]:
    from jobqueue_kafka.testserver import kafka_test_server

    with kafka_test_server() as server:
        yield server.address


@pytest.fixture(scope="session")
def kinesis_url() -> Iterator[str]:
    from jobqueue_kinesis.testserver import moto_server

    with moto_server() as endpoint:
        yield endpoint.url


@pytest.fixture(params=BROKERS, scope="module")
def broker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def queue_config(broker_kind: str, request: pytest.FixtureRequest) -> QueueConfigFactory:
    """Builds the job's queue_config for the broker under test, for a topic name; starts the
    broker's test server (once per session) when the broker needs one."""
    if broker_kind == "sqlite":
        return lambda topic: {"type": "sqlite", "config": {"topic": topic}}
    if broker_kind == "redis":
        url = request.getfixturevalue("redis_url")
        return lambda topic: {"type": "redis", "config": {"url": url, "stream": topic}}
    if broker_kind == "kafka":
        from jobqueue_kafka.testserver import GROUP_SETTINGS

        address = request.getfixturevalue("kafka_address")
        return lambda topic: {
            "type": "kafka",
            "config": {
                "cluster_address": [address],
                "topic": topic,
                "partitions": 1,
                "config": dict(GROUP_SETTINGS),
            },
        }
    if broker_kind == "kinesis":
        from jobqueue_kinesis.testserver import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY

        url = request.getfixturevalue("kinesis_url")
        return lambda topic: {
            "type": "kinesis",
            "config": {
                "stream_name": topic,
                "endpoint_url": url,
                "aws_access_key_id": FAKE_ACCESS_KEY_ID,
                "aws_secret_access_key": FAKE_SECRET_ACCESS_KEY,
            },
        }
    raise AssertionError(f"no queue config for broker {broker_kind}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    dev = DevStack(tmp_path_factory.mktemp("dev"), *DEV_ARGS).start()
    yield dev
    code = dev.stop()
    assert code == 0, f"jobqueue dev exited with {code}; log:\n{dev.log()}"


@pytest.fixture
def api(stack: DevStack) -> Iterator[Api]:
    client = Api(stack.controller_url, stack.dispatcher_url)
    yield client
    client.close()


_counter = itertools.count()


@pytest.fixture
def job_name(api: Api) -> Iterator[str]:
    """A job (and topic) name unique to this test; unsubscribed when the test ends, so the
    module's dispatcher does not go on reading the topics of every earlier test."""
    name = f"t{next(_counter)}-{uuid.uuid4().hex[:8]}"
    yield name
    api.worker("unsubscribe", name=name)  # 404 when the test never subscribed


@pytest.fixture
def consumer_job(api: Api, job_name: str, queue_config: QueueConfigFactory) -> str:
    """An active, subscribed consumer job with retry queues [300 ms, 600 ms]."""
    api.create_job(job_name, queue_config(job_name))
    api.start_job(job_name)
    api.subscribe(job_name)
    return job_name
