"""The shared broker conformance suite (`jobqueue.testing`) run on Kafka."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobqueue.contract import Broker, BrokerContext
from jobqueue.testing import BrokerConformance
from jobqueue_kafka import KafkaBroker, KafkaConfig
from jobqueue_kafka.testserver import GROUP_SETTINGS


def _broker(address: str, timeout_s: float) -> KafkaBroker:
    config = KafkaConfig(
        cluster_address=[address], topic="unused", partitions=3, config=dict(GROUP_SETTINGS)
    )
    return KafkaBroker(config, BrokerContext(timeout_s=timeout_s))


class TestKafkaConformance(BrokerConformance):
    @pytest.fixture
    def broker_factory(self, kafka_address: str) -> Callable[[], Broker]:
        return lambda: _broker(kafka_address, 10.0)

    @pytest.fixture
    def unreachable_broker_factory(self, nowhere: str) -> Callable[[], Broker]:
        return lambda: _broker(nowhere, 2.0)
