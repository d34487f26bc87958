"""Turning librdkafka errors into jobqueue's typed errors, named after broker and address."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

from jobqueue.errors import BrokerUnavailable
from jobqueue_kafka.config import BROKER_NAME, KafkaConfig


def describe(exc: BaseException | KafkaError) -> str:
    """A short reason: librdkafka's error name and text, without a Python repr around it."""
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else exc
    if isinstance(error, KafkaError):
        return f"{error.name()}: {error.str()}"
    return f"{type(error).__name__}: {error}"


def unavailable(config: KafkaConfig, reason: str) -> BrokerUnavailable:
    return BrokerUnavailable(BROKER_NAME, config.address(), reason)
