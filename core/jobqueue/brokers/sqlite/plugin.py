"""Entry point of the embedded SQLite broker: registers it like any third-party plugin."""

from __future__ import annotations

from jobqueue.brokers.sqlite.broker import SqliteBroker
from jobqueue.hookspecs import RegisterBroker, hookimpl


@hookimpl
def jobqueue_register_brokers(register: RegisterBroker) -> None:
    register(SqliteBroker)
