"""The shared broker conformance suite (`jobqueue.testing`) run on Kafka.

Two behaviours depend on broker features Tansu (the bundled test broker) lacks; on Tansu those
tests run as strict expected failures, naming the gap, and they run as normal tests on Apache
Kafka (``JOBQUEUE_TEST_KAFKA`` or testcontainers). Strict: once Tansu closes a gap, the
unexpected pass fails the run, and the mark has to go.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobqueue.contract import Broker, BrokerContext
from jobqueue.testing import BrokerConformance
from jobqueue_kafka import KafkaBroker, KafkaConfig
from jobqueue_kafka.testserver import GROUP_SETTINGS, KafkaTestServer, keeps_commit_metadata

# Only the unreachable broker carries credentials: errors about it must not show them.
_CREDENTIALS = {
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanism": "PLAIN",
    "sasl.username": "jobqueue",
    "sasl.password": "conformance-secret",
}


def _broker(address: str, timeout_s: float, **settings: str) -> KafkaBroker:
    config = KafkaConfig(
        cluster_address=[address],
        topic="unused",
        partitions=3,
        config={**GROUP_SETTINGS, **settings},
    )
    return KafkaBroker(config, BrokerContext(timeout_s=timeout_s))


@pytest.fixture(scope="session")
def commit_metadata_kept(kafka_address: str) -> bool:
    return keeps_commit_metadata(kafka_address)


class TestKafkaConformance(BrokerConformance):
    @pytest.fixture
    def broker_factory(self, kafka_address: str) -> Callable[[], Broker]:
        return lambda: _broker(kafka_address, 10.0)

    @pytest.fixture
    def unreachable_broker_factory(self, nowhere: str) -> Callable[[], Broker]:
        return lambda: _broker(nowhere, 2.0, **_CREDENTIALS)

    @pytest.fixture(autouse=True)
    def _broker_gaps(
        self,
        request: pytest.FixtureRequest,
        kafka_server: KafkaTestServer,
        commit_metadata_kept: bool,
    ) -> None:
        """Mark the tests that need what the running broker lacks as strict xfail."""
        name = request.node.name
        reason = ""
        if name == "test_out_of_order_acks_never_skip_an_unacked_delivery" and not (
            commit_metadata_kept
        ):
            reason = (
                "the broker drops offset-commit metadata, where acks past an un-acked record "
                "are kept; they come back after close (Tansu; Apache Kafka stores it)"
            )
        if name == "test_expired_lease_goes_to_another_consumer" and kafka_server.kind == "tansu":
            reason = (
                "Tansu keeps a member that stops taking part in a rebalance (here: not polled "
                "past max.poll.interval.ms) as group leader, so the rebalance never completes"
            )
        if reason:
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
