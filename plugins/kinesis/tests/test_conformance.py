"""The shared broker conformance suite, run against Kinesis on a moto server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobqueue.contract import Broker, BrokerContext
from jobqueue.testing import BrokerConformance
from jobqueue_kinesis import KinesisBroker, KinesisConfig
from jobqueue_kinesis.testserver import (
    FAKE_ACCESS_KEY_ID,
    FAKE_SECRET_ACCESS_KEY,
    MotoEndpoint,
)


class TestKinesisConformance(BrokerConformance):
    """Every conformance test, on streams of two shards on the shared moto server."""

    @pytest.fixture
    def broker_factory(self, moto: MotoEndpoint) -> Callable[[], Broker]:
        # Two shards per stream, so that the group tests exercise lease sharing.
        return lambda: KinesisBroker(moto.config("jqc-main", shard_count=2, idle_poll_ms=100))

    @pytest.fixture
    def unreachable_broker_factory(self, dead_endpoint: str) -> Callable[[], Broker]:
        context = BrokerContext(timeout_s=2.0)
        config = KinesisConfig(
            stream_name="nowhere",
            endpoint_url=dead_endpoint,
            aws_access_key_id=FAKE_ACCESS_KEY_ID,
            aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
        )
        return lambda: KinesisBroker(config, context)
