"""Entry point of the Kafka broker (``jobqueue`` group): registers `KafkaBroker`."""

from __future__ import annotations

from jobqueue.hookspecs import RegisterBroker, hookimpl
from jobqueue_kafka.broker import KafkaBroker


@hookimpl
def jobqueue_register_brokers(register: RegisterBroker) -> None:
    register(KafkaBroker)
