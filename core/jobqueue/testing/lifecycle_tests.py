"""Conformance tests of topics, closing, and brokers nobody serves."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from jobqueue.contract import Broker, Consumer, Producer, Record
from jobqueue.errors import BrokerUnavailable
from jobqueue.testing.base import SuiteBase
from jobqueue.testing.harness import Harness
from jobqueue.testing.helpers import payloads, unique_name


def _close_quietly(*closables: Broker | Producer | Consumer) -> None:
    """Close what a failure test opened; closing a broker that never connected may fail too."""
    for closable in closables:
        with contextlib.suppress(Exception):
            closable.close()


def _secrets(broker: Broker) -> list[str]:
    """The config's secret values, and the password inside any secret URL."""
    found: list[str] = []
    for field in type(broker.config).__secret_fields__:
        value = getattr(broker.config, field, None)
        if not isinstance(value, str) or not value:
            continue
        found.append(value)
        if "://" in value:
            with contextlib.suppress(ValueError):
                password = urlsplit(value).password
                if password:
                    found.append(password)
    return found


def _assert_names_broker_without_secrets(broker: Broker, error: BrokerUnavailable) -> None:
    assert error.broker == broker.name
    assert error.address, "the error must name the address"
    text = f"{error} {error.address} {error.reason}"
    for secret in _secrets(broker):
        assert secret not in text, "the error message shows a secret from the config"


class LifecycleTests(SuiteBase):
    """``ensure_topics``, idempotent ``close`` and bounded `BrokerUnavailable`."""

    # -- topics, lifecycle, failures ------------------------------------------------------

    def test_ensure_topics_is_idempotent(self, conformance: Harness) -> None:
        """``ensure_topics`` twice, and from a second broker instance, leaves working topics."""
        topics = [unique_name("jqc"), unique_name("jqc")]
        conformance.broker.ensure_topics(topics)
        conformance.broker.ensure_topics(topics)
        conformance.broker.ensure_topics([])
        conformance.new_broker().ensure_topics(list(reversed(topics)))
        for topic in topics:
            conformance.publish(topic, [topic.encode()])
            consumer = conformance.consumer(topic, unique_name("g"))
            assert payloads(self._drain(consumer, 1, ack=True)) == [topic.encode()]

    def test_close_is_idempotent(self, conformance: Harness) -> None:
        """Closing a producer, a consumer or a broker twice does not raise."""
        topic = self._topic(conformance)
        broker = conformance.new_broker()
        producer = broker.producer(topic)
        consumer = broker.consumer(topic, unique_name("g"))
        for closable in (producer, producer, consumer, consumer, broker, broker):
            closable.close()

    def test_unreachable_broker_fails_publish_in_bounded_time(
        self, unreachable_broker_factory: Callable[[], Broker]
    ) -> None:
        """Publishing to a broker nobody serves raises BrokerUnavailable, naming it, no secrets."""
        broker = unreachable_broker_factory()
        bound_s = broker.context.timeout_s + self.unreachable_slack_s
        opened: list[Producer] = []
        started = time.monotonic()
        try:
            with pytest.raises(BrokerUnavailable) as raised:
                opened.append(broker.producer(unique_name("jqc")))
                opened[0].publish([Record(payload=b"nobody listens")])
            elapsed = time.monotonic() - started
        finally:
            _close_quietly(*opened, broker)
        assert elapsed <= bound_s, f"took {elapsed:.1f}s to fail (bound {bound_s:.1f}s)"
        _assert_names_broker_without_secrets(broker, raised.value)

    def test_unreachable_broker_fails_consumer_in_bounded_time(
        self, unreachable_broker_factory: Callable[[], Broker]
    ) -> None:
        """Creating or polling a consumer of a broker nobody serves raises BrokerUnavailable."""
        broker = unreachable_broker_factory()
        poll_timeout_s = 1.0
        bound_s = broker.context.timeout_s + poll_timeout_s + self.unreachable_slack_s
        opened: list[Consumer] = []
        started = time.monotonic()
        try:
            with pytest.raises(BrokerUnavailable) as raised:
                opened.append(broker.consumer(unique_name("jqc"), unique_name("g")))
                opened[0].poll(10, poll_timeout_s)
            elapsed = time.monotonic() - started
        finally:
            _close_quietly(*opened, broker)
        assert elapsed <= bound_s, f"took {elapsed:.1f}s to fail (bound {bound_s:.1f}s)"
        _assert_names_broker_without_secrets(broker, raised.value)
