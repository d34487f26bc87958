"""Kafka broker plugin for jobqueue, built on confluent-kafka (librdkafka)."""

from __future__ import annotations

from jobqueue_kafka.broker import KafkaBroker
from jobqueue_kafka.config import KafkaConfig

__all__ = ["KafkaBroker", "KafkaConfig"]
