"""The hooks a jobqueue plugin may implement (pluggy, project name ``jobqueue``)."""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from jobqueue.contract import Broker

PROJECT = "jobqueue"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

RegisterBroker = Callable[[type[Broker]], None]


@hookspec
def jobqueue_register_brokers(register: RegisterBroker) -> None:
    """Call ``register(BrokerClass)`` once for each broker this plugin provides."""
