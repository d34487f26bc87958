"""`SuiteBase`: the fixtures, tuning knobs and polling loops the conformance tests share."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from jobqueue.contract import Broker, Consumer, Delivery
from jobqueue.testing.harness import Harness
from jobqueue.testing.helpers import collect_for, drain, drain_until, payloads, unique_name


class SuiteBase:
    """Fixtures, tuning knobs (documented on `BrokerConformance`) and polling loops."""

    delivery_deadline_s: float = 30.0
    quiet_s: float = 2.0
    poll_timeout_s: float = 0.5
    poll_slack_s: float = 1.0
    delivery_latency_s: float = 5.0
    unreachable_slack_s: float = 5.0
    lease_ms: int = 1_000

    @pytest.fixture
    def broker_factory(self) -> Callable[[], Broker]:
        """Override: build a NEW broker instance on the backend under test at each call."""
        pytest.fail(f"{type(self).__name__} must define the `broker_factory` fixture")

    @pytest.fixture
    def unreachable_broker_factory(self) -> Callable[[], Broker]:
        """Override: build a broker for an address where nothing listens (timeout_s=2.0)."""
        pytest.fail(f"{type(self).__name__} must define the `unreachable_broker_factory` fixture")

    @pytest.fixture
    def conformance(self, broker_factory: Callable[[], Broker]) -> Iterator[Harness]:
        """Everything a test opens, closed when it ends."""
        harness = Harness(broker_factory)
        try:
            yield harness
        finally:
            harness.close_all()

    def _topic(self, harness: Harness) -> str:
        topic = unique_name("jqc")
        harness.broker.ensure_topics([topic])
        return topic

    def _drain(
        self, consumer: Consumer, expected: int, *, max_records: int = 100, ack: bool = False
    ) -> list[Delivery]:
        return drain(
            consumer,
            expected,
            self.delivery_deadline_s,
            max_records=max_records,
            poll_timeout_s=self.poll_timeout_s,
            ack=ack,
        )

    def _until_sentinel(self, consumer: Consumer) -> list[Delivery]:
        """Poll (acking) until the record with payload ``b"sentinel"`` arrived."""
        return drain_until(
            consumer,
            lambda received: b"sentinel" in payloads(received),
            self.delivery_deadline_s,
            poll_timeout_s=self.poll_timeout_s,
            ack=True,
        )

    def _quiet(self, consumer: Consumer) -> list[Delivery]:
        return collect_for(consumer, self.quiet_s, poll_timeout_s=self.poll_timeout_s)
