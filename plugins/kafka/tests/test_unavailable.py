"""A cluster that is not there, or goes away: BrokerUnavailable within the configured timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from jobqueue.contract import BrokerContext, Delivery, Record
from jobqueue.errors import BrokerUnavailable, PublishFailed
from jobqueue_kafka import KafkaBroker, KafkaConfig
from jobqueue_kafka.testserver import GROUP_SETTINGS, tansu_server

TIMEOUT_S = 2.0
SLACK_S = 3.0


def broker_at(address: str) -> KafkaBroker:
    config = KafkaConfig(cluster_address=[address], topic="t", config=dict(GROUP_SETTINGS))
    return KafkaBroker(config, BrokerContext(timeout_s=TIMEOUT_S))


def timed_failure(action: Callable[[], Any], error: type[Exception]) -> tuple[Exception, float]:
    started = time.monotonic()
    with pytest.raises(error) as caught:
        action()
    return caught.value, time.monotonic() - started


@pytest.mark.parametrize("operation", ["producer", "consumer", "ensure_topics"])
def test_absent_cluster_is_unavailable_within_the_timeout(nowhere: str, operation: str) -> None:
    """Nothing listens: each operation raises BrokerUnavailable naming broker and address."""
    broker = broker_at(nowhere)
    actions: dict[str, Callable[[], Any]] = {
        "producer": lambda: broker.producer("t"),
        "consumer": lambda: broker.consumer("t", "g"),
        "ensure_topics": lambda: broker.ensure_topics(["t"]),
    }
    error, elapsed = timed_failure(actions[operation], BrokerUnavailable)
    assert elapsed < TIMEOUT_S + SLACK_S
    assert f"kafka broker at {nowhere} unavailable" in str(error)


def test_cluster_going_away_fails_every_call_in_bounded_time() -> None:
    """After the cluster stops: publish raises PublishFailed, poll and ack BrokerUnavailable,
    close returns; each within the configured timeout plus a little."""
    with tansu_server() as address:
        broker = broker_at(address)
        broker.ensure_topics(["t"])
        producer = broker.producer("t")
        producer.publish([Record(b"before")])
        consumer = broker.consumer("t", "g")
        deadline = time.monotonic() + 30
        got: list[Delivery] = []
        while not got and time.monotonic() < deadline:
            got = consumer.poll(10, 0.5)
        assert [d.payload for d in got] == [b"before"]
    # The server is stopped here.
    error, elapsed = timed_failure(
        lambda: producer.publish([Record(b"a"), Record(b"b")]), PublishFailed
    )
    assert isinstance(error, PublishFailed) and error.failed == [0, 1]
    assert elapsed < TIMEOUT_S + 5 + SLACK_S

    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        while time.monotonic() - started < 30:
            assert consumer.poll(10, 0.5) == []
    assert time.monotonic() - started < TIMEOUT_S + SLACK_S

    error, elapsed = timed_failure(lambda: consumer.ack(got), BrokerUnavailable)
    assert elapsed < TIMEOUT_S + SLACK_S, "a commit must not wait for the session timeout"

    started = time.monotonic()
    consumer.close()
    producer.close()
    assert time.monotonic() - started < TIMEOUT_S + SLACK_S


def test_unavailable_errors_do_not_show_credentials(nowhere: str) -> None:
    """The error for an unreachable cluster names it but never shows the SASL password."""
    config = KafkaConfig(
        cluster_address=[nowhere],
        topic="t",
        config={"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                "sasl.username": "svc", "sasl.password": "hunter2-unavailable"},
    )
    broker = KafkaBroker(config, BrokerContext(timeout_s=TIMEOUT_S))
    error, _ = timed_failure(lambda: broker.producer("t"), BrokerUnavailable)
    assert isinstance(error, BrokerUnavailable)
    assert nowhere in str(error)
    assert "hunter2" not in f"{error} {error.reason}"
