"""librdkafka settings per client kind: the contract's settings win, the job's pass through."""

from __future__ import annotations

from jobqueue.contract import BrokerContext
from jobqueue_kafka import KafkaConfig, settings


def config(**overrides: str | int | float | bool) -> KafkaConfig:
    return KafkaConfig(cluster_address=["a:9092", "b:9092"], topic="t", config=overrides)


CONTEXT = BrokerContext(timeout_s=3.0, instance_id="abc")


def test_producer_is_idempotent_and_bounded_by_the_context_timeout() -> None:
    """acks=all + idempotence always; deliveries time out with the context's timeout."""
    built = settings.producer(config(**{"linger.ms": 20}), CONTEXT)
    assert built["bootstrap.servers"] == "a:9092,b:9092"
    assert built["enable.idempotence"] is True
    assert built["acks"] == "all"
    assert built["message.timeout.ms"] == 3000
    assert built["linger.ms"] == 20
    assert built["message.max.bytes"] > settings.MAX_PAYLOAD_BYTES
    assert built["client.id"] == "jobqueue-abc"


def test_a_jobs_delivery_timeout_is_kept() -> None:
    """A job that sets delivery.timeout.ms (alias) keeps it; no second timeout is added."""
    built = settings.producer(config(**{"delivery.timeout.ms": 60000}), CONTEXT)
    assert built["delivery.timeout.ms"] == 60000
    assert "message.timeout.ms" not in built


def test_consumer_commits_manually_in_the_jobs_group() -> None:
    """group.id is the given group, auto-commit is off, new groups start at the beginning."""
    built = settings.consumer(config(), CONTEXT, "job-a", lease_ms=30_000)
    assert built["group.id"] == "job-a"
    assert built["enable.auto.commit"] is False
    assert built["enable.auto.offset.store"] is False
    assert built["auto.offset.reset"] == "earliest"


def test_lease_sets_max_poll_interval_but_not_below_the_session_timeout() -> None:
    """lease_ms becomes max.poll.interval.ms, raised to session.timeout.ms when shorter."""
    job = config(**{"session.timeout.ms": 6000})
    assert settings.consumer(job, CONTEXT, "g", lease_ms=90_000)["max.poll.interval.ms"] == 90_000
    assert settings.consumer(job, CONTEXT, "g", lease_ms=1_000)["max.poll.interval.ms"] == 6000
    assert settings.consumer(config(), CONTEXT, "g", lease_ms=1_000)["max.poll.interval.ms"] == (
        45_000
    )
    own = config(**{"max.poll.interval.ms": 120_000})
    assert settings.consumer(own, CONTEXT, "g", lease_ms=1_000)["max.poll.interval.ms"] == 120_000
