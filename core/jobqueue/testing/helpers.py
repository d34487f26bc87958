"""Polling helpers for broker tests: loops with deadlines instead of single polls.

Brokers differ in how long a new consumer takes to get work (a Kafka group join takes
seconds, SQLite none), so tests poll until they have what they expect or a deadline passes,
then assert on exactly what arrived.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

from jobqueue.contract import Consumer, Delivery


def unique_name(prefix: str) -> str:
    """A topic or group name no other test uses (letters, digits and '-' only)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def poll_checked(consumer: Consumer, max_records: int, timeout_s: float) -> list[Delivery]:
    """One poll, asserting the contract's bound on the batch size."""
    batch = consumer.poll(max_records, timeout_s)
    assert len(batch) <= max_records, (
        f"poll(max_records={max_records}) returned {len(batch)} deliveries"
    )
    return batch


def drain_until(
    consumer: Consumer,
    done: Callable[[Sequence[Delivery]], bool],
    deadline_s: float,
    *,
    max_records: int = 100,
    poll_timeout_s: float = 0.5,
    ack: bool = False,
) -> list[Delivery]:
    """Poll until ``done(received)`` is true or ``deadline_s`` passed; return all received.

    With ``ack=True`` each batch is acked as soon as it arrives, as a worker would.
    """
    received: list[Delivery] = []
    deadline = time.monotonic() + deadline_s
    while not done(received):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        batch = poll_checked(consumer, max_records, min(poll_timeout_s, remaining))
        if batch and ack:
            consumer.ack(batch)
        received.extend(batch)
    return received


def drain(
    consumer: Consumer,
    expected: int,
    deadline_s: float,
    *,
    max_records: int = 100,
    poll_timeout_s: float = 0.5,
    ack: bool = False,
) -> list[Delivery]:
    """Poll until at least ``expected`` deliveries arrived or ``deadline_s`` passed."""
    return drain_until(
        consumer,
        lambda received: len(received) >= expected,
        deadline_s,
        max_records=max_records,
        poll_timeout_s=poll_timeout_s,
        ack=ack,
    )


def collect_for(
    consumer: Consumer,
    duration_s: float,
    *,
    max_records: int = 100,
    poll_timeout_s: float = 0.5,
    ack: bool = False,
) -> list[Delivery]:
    """Poll for ``duration_s`` and return whatever arrived (to show that nothing does)."""
    return drain_until(
        consumer,
        lambda _received: False,
        duration_s,
        max_records=max_records,
        poll_timeout_s=poll_timeout_s,
        ack=ack,
    )


def payloads(deliveries: Sequence[Delivery]) -> list[bytes]:
    return [delivery.payload for delivery in deliveries]


def numbered(prefix: str, count: int) -> list[bytes]:
    """``count`` distinct payloads that sort in publish order: ``prefix-000000``, ..."""
    return [f"{prefix}-{index:06d}".encode() for index in range(count)]
