"""The jobqueue conformance suite on the memory broker: the tests every broker passes."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from jobqueue.contract import Broker, BrokerContext
from jobqueue.testing import BrokerConformance

from jobqueue_memory import MemoryBroker, MemoryConfig, open_store


class TestMemoryConformance(BrokerConformance):
    # Records are handed out as soon as they are published: a short quiet period proves as
    # much here as a long one would.
    quiet_s = 1.0
    delivery_deadline_s = 10.0

    @pytest.fixture
    def broker_factory(self) -> Callable[[], Broker]:
        store = f"conformance-{uuid.uuid4().hex[:8]}"
        return lambda: MemoryBroker(MemoryConfig(topic="unused", store=store))

    @pytest.fixture
    def unreachable_broker_factory(self) -> Callable[[], Broker]:
        # The in-process analogue of "nothing listens there": a store that was shut down.
        store = f"gone-{uuid.uuid4().hex[:8]}"
        open_store(store).shutdown()
        context = BrokerContext(timeout_s=2.0)
        return lambda: MemoryBroker(MemoryConfig(topic="unused", store=store), context)
