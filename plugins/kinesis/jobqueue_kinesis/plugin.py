"""Entry point of the Kinesis broker (group ``jobqueue``, name ``kinesis``)."""

from __future__ import annotations

from jobqueue.hookspecs import RegisterBroker, hookimpl
from jobqueue_kinesis.broker import KinesisBroker


@hookimpl
def jobqueue_register_brokers(register: RegisterBroker) -> None:
    register(KinesisBroker)
