"""Fixtures: one moto server (Kinesis + DynamoDB over real HTTP) and brokers connected to it.

If the server cannot start, the fixture raises and every test using it fails with the reason;
nothing is skipped. Tests share the server and stay independent through unique stream names.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator

import pytest

from jobqueue.contract import BrokerContext
from jobqueue_kinesis import KinesisBroker
from jobqueue_kinesis.testserver import MotoEndpoint, moto_server

BrokerFactory = Callable[..., KinesisBroker]


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoEndpoint]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def stream() -> str:
    """A stream name no other test uses."""
    return f"kin-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def brokers(moto: MotoEndpoint, stream: str) -> Iterator[BrokerFactory]:
    """Builds brokers on the shared server: ``brokers(**config_fields)``, closed at teardown."""
    built: list[KinesisBroker] = []

    def build(**config: object) -> KinesisBroker:
        broker = KinesisBroker(moto.config(stream, **config), BrokerContext(timeout_s=5.0))
        built.append(broker)
        return broker

    yield build
    for broker in built:
        broker.close()


@pytest.fixture
def broker(brokers: BrokerFactory) -> KinesisBroker:
    return brokers()


@pytest.fixture
def dead_endpoint() -> str:
    """A local URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
