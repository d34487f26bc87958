"""The installed distribution registers the broker through the `jobqueue` entry point."""

from __future__ import annotations

import pytest
from jobqueue.errors import BrokerConfigError
from jobqueue.plugins import load_brokers

from jobqueue_memory import MemoryBroker, MemoryConfig


def test_entry_point_registers_the_broker() -> None:
    """`load_brokers` finds `memory` in distribution jobqueue-memory, without load failures."""
    registry = load_brokers()

    info = registry.brokers["memory"]

    assert info.cls is MemoryBroker
    assert info.distribution == "jobqueue-memory"
    assert info.version == "0.1.0"
    assert [f for f in registry.failures if f.distribution == "jobqueue-memory"] == []


def test_registry_validates_the_queue_config() -> None:
    """The controller's validation path converts a good config and names a bad field."""
    registry = load_brokers()

    config = registry.parse_config("memory", {"topic": "orders"})

    assert config == MemoryConfig(topic="orders", store="default")
    assert config.address() == "memory://default"
    with pytest.raises(BrokerConfigError) as raised:
        registry.parse_config("memory", {"topic": "no spaces allowed"})
    assert raised.value.field == "topic"
    with pytest.raises(BrokerConfigError) as raised:
        registry.parse_config("memory", {"topic": "t", "stream": "x"})
    assert "stream" in str(raised.value)
