"""Fixtures of the Kafka plugin tests: one real broker per session, brokers configured for it.

The broker comes from `jobqueue_kafka.testserver` (``JOBQUEUE_TEST_KAFKA``, Docker, or the
bundled Tansu); when none can be started the tests error with the reason, they never skip.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jobqueue.contract import BrokerContext, Consumer, Delivery
from jobqueue_kafka import KafkaBroker, KafkaConfig
from jobqueue_kafka.testserver import GROUP_SETTINGS, KafkaTestServer, kafka_test_server

BrokerMaker = Callable[..., KafkaBroker]


@pytest.fixture(scope="session")
def kafka_server() -> Iterator[KafkaTestServer]:
    with kafka_test_server() as server:
        yield server


@pytest.fixture(scope="session")
def kafka_address(kafka_server: KafkaTestServer) -> str:
    return kafka_server.address


def _build_broker(address: str, *, timeout_s: float = 10.0, **fields: Any) -> KafkaBroker:
    """A broker for ``address`` with the fast consumer-group settings and ``fields`` on top."""
    settings = {**GROUP_SETTINGS, **fields.pop("config", {})}
    fields.setdefault("topic", "unused")
    config = KafkaConfig(cluster_address=[address], config=settings, **fields)
    return KafkaBroker(config, BrokerContext(timeout_s=timeout_s))


@pytest.fixture
def make_broker(kafka_address: str) -> Iterator[BrokerMaker]:
    """Builds brokers on the session's server; closes them after the test."""
    built: list[KafkaBroker] = []

    def make(**fields: Any) -> KafkaBroker:
        broker = _build_broker(kafka_address, **fields)
        built.append(broker)
        return broker

    yield make
    for broker in built:
        broker.close()


@pytest.fixture
def topic() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def nowhere() -> str:
    """A local address where nothing listens (a port bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


Drain = Callable[[Consumer, int], list[Delivery]]


def _drain(consumer: Consumer, count: int, timeout_s: float = 30.0) -> list[Delivery]:
    """Poll until ``count`` deliveries arrived (group joins take seconds) or the time is up."""
    deadline = time.monotonic() + timeout_s
    got: list[Delivery] = []
    while len(got) < count and time.monotonic() < deadline:
        got += consumer.poll(count - len(got), 0.5)
    return got


@pytest.fixture
def drain() -> Drain:
    return _drain
