"""What the memory broker promises beyond the conformance suite: key order across consumers,
shutdown, and the payload limit."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from jobqueue.contract import Record
from jobqueue.errors import BrokerUnavailable, PublishFailed

from jobqueue_memory import MemoryBroker, MemoryConfig, open_store
from jobqueue_memory.broker import MAX_PAYLOAD_BYTES


def _broker(store: str = "") -> MemoryBroker:
    return MemoryBroker(MemoryConfig(topic="t", store=store or f"unit-{uuid.uuid4().hex[:8]}"))


def test_a_key_is_not_handed_to_a_second_consumer_while_leased() -> None:
    """Record 2 of key k waits until record 1 of k, leased to another consumer, is acked."""
    broker = _broker()
    broker.producer("t").publish([Record(b"1", b"k"), Record(b"2", b"k"), Record(b"x", None)])
    first = broker.consumer("t", "g")
    second = broker.consumer("t", "g")

    held = first.poll(1, 0)
    others = second.poll(10, 0)
    first.ack(held)
    after_ack = second.poll(10, 0)

    assert [d.payload for d in held] == [b"1"]
    assert [d.payload for d in others] == [b"x"]
    assert [d.payload for d in after_ack] == [b"2"]


def test_shutdown_wakes_a_waiting_poll_with_broker_unavailable() -> None:
    """A poll blocked on an empty topic fails at once when its store shuts down."""
    store = f"unit-{uuid.uuid4().hex[:8]}"
    consumer = _broker(store).consumer("t", "g")
    threading.Timer(0.2, open_store(store).shutdown).start()
    started = time.monotonic()

    with pytest.raises(BrokerUnavailable) as raised:
        consumer.poll(1, 10.0)

    assert time.monotonic() - started < 5.0
    assert raised.value.address == f"memory://{store}"


def test_oversized_records_are_listed_and_the_rest_accepted() -> None:
    """PublishFailed names exactly the records above the declared payload limit."""
    broker = _broker()
    records = [Record(b"ok"), Record(b"x" * (MAX_PAYLOAD_BYTES + 1)), Record(b"also ok")]

    with pytest.raises(PublishFailed) as raised:
        broker.producer("t").publish(records)

    assert raised.value.failed == [1]
    assert [d.payload for d in broker.consumer("t", "g").poll(10, 0)] == [b"ok", b"also ok"]
