"""A receiver's read-ahead buffer on the embedded broker: deliveries that waited there too long
for their per-record lease are renewed before they are handed out, or dropped once the lease
may have run out (the broker delivers them again)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobqueue.brokers.sqlite import SqliteBroker, SqliteConfig
from jobqueue.contract import Delivery, Record
from jobqueue.dispatcher.receiver import Receiver

LEASE_S = 2.0
RENEW_AFTER_S = 0.3
EXPIRE_AFTER_S = LEASE_S - min(1.0, (LEASE_S - RENEW_AFTER_S) / 2)  # as Receiver computes it


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[SqliteBroker]:
    broker = SqliteBroker(SqliteConfig(topic="jobs", path=str(tmp_path / "broker.db")))
    broker.ensure_topics(["jobs"])
    yield broker
    broker.close()


def _parse(delivery: Delivery) -> tuple[float, Any]:
    return 0.0, delivery.payload


@contextlib.asynccontextmanager
async def _buffered(broker: SqliteBroker, group: str, payload: bytes) -> AsyncIterator[Receiver]:
    """A reading receiver of ``group`` once it has ``payload`` in its buffer; closed after."""
    receiver = Receiver(
        "main",
        lambda: broker.consumer("jobs", group, lease_ms=int(LEASE_S * 1000)),
        asyncio.get_running_loop(),
        parse=_parse,
        on_undecodable=lambda deliveries: None,
        lease_s=LEASE_S,
        renew_after_s=RENEW_AFTER_S,
    )
    await asyncio.to_thread(receiver.open)
    try:
        broker.producer("jobs").publish([Record(payload)])
        deadline = time.monotonic() + 5
        while receiver.buffered() < 1:
            assert time.monotonic() < deadline, "the receiver did not read the record"
            await asyncio.sleep(0.01)
        yield receiver
    finally:
        await asyncio.to_thread(receiver.close)


def test_fresh_deliveries_are_handed_out_as_they_are(broker: SqliteBroker) -> None:
    async def run() -> tuple[list[Any], list[Delivery]]:
        async with _buffered(broker, "fresh", b"fresh") as receiver:
            taken, renew = receiver.take(10, time.time())
            return [item for _, item in taken], renew

    items, renew = asyncio.run(run())
    assert items == [b"fresh"] and renew == []


def test_a_delivery_buffered_past_the_margin_is_renewed_and_not_given_to_the_group(
    broker: SqliteBroker,
) -> None:
    """Taken after RENEW_AFTER_S it comes back for renewal; once renewed, another consumer
    of the group does not get it when its original lease would have run out."""

    async def run() -> tuple[list[Any], list[Delivery]]:
        async with _buffered(broker, "renew", b"waited") as receiver:
            await asyncio.sleep(RENEW_AFTER_S + 0.2)
            taken, renew = receiver.take(10, time.time())
            receiver.pause()  # its own reads would take the record back once the lease ran out
            await asyncio.sleep(LEASE_S - RENEW_AFTER_S - 0.5)
            await asyncio.to_thread(receiver.extend_blocking, renew)
            await asyncio.sleep(1.0)  # the first lease has run out by now; the renewed one holds
            other = broker.consumer("jobs", "renew", lease_ms=int(LEASE_S * 1000))
            try:
                assert other.poll(10, 0.2) == []
            finally:
                other.close()
            return [item for _, item in taken], renew

    items, renew = asyncio.run(run())
    assert items == [b"waited"]
    assert [d.payload for d in renew] == [b"waited"]


def test_a_delivery_buffered_until_its_lease_may_have_run_out_is_dropped_and_comes_back(
    broker: SqliteBroker,
) -> None:
    async def run() -> tuple[int, list[Any]]:
        async with _buffered(broker, "drop", b"late") as receiver:
            await asyncio.sleep(EXPIRE_AFTER_S + 0.1)
            dropped, _ = receiver.take(10, time.time())
            again: list[Any] = []
            deadline = time.monotonic() + 10
            while not again and time.monotonic() < deadline:
                await receiver.wait(0.2)
                taken, _ = receiver.take(10, time.time())
                again += [item for _, item in taken]
            return len(dropped), again

    dropped, again = asyncio.run(run())
    assert dropped == 0
    assert again == [b"late"]
