"""The in-flight table: claims, releases, extension and expiry order."""

from __future__ import annotations

from typing import Any

from jobqueue.contract import Delivery
from jobqueue.dispatcher.inflight import InFlight, InFlightTable


def _entry(msg_id: int, deadline: float) -> InFlight:
    receiver: Any = object()
    return InFlight(msg_id, Delivery(b"", None, msg_id), receiver, None, deadline)


def test_claimed_entry_cannot_be_claimed_twice() -> None:
    """An ack in progress hides the id from a concurrent ack or expiry."""
    table = InFlightTable()
    table.add(_entry(1, 10.0))
    assert table.claim(1) is not None
    assert table.claim(1) is None
    assert table.claim_expired(100.0) == []


def test_release_makes_entry_claimable_and_expirable_again() -> None:
    """A failed settle puts the entry back, with a new deadline when given."""
    table = InFlightTable()
    entry = _entry(1, 10.0)
    table.add(entry)
    table.claim_expired(11.0)
    table.release(entry, 20.0)
    assert table.claim_expired(15.0) == []
    assert table.claim_expired(21.0) == [entry]


def test_expiry_in_deadline_order_and_extend_postpones() -> None:
    """Expired entries come out earliest first; an extended one does not expire early."""
    table = InFlightTable()
    for msg_id, deadline in ((1, 3.0), (2, 1.0), (3, 2.0)):
        table.add(_entry(msg_id, deadline))
    assert table.extend(2, 50.0)
    assert [e.id for e in table.claim_expired(10.0)] == [3, 1]
    assert table.next_deadline() == 50.0
    assert not table.extend(99, 60.0)


def test_remove_drops_entry() -> None:
    """Settled entries leave the table."""
    table = InFlightTable()
    entry = _entry(7, 1.0)
    table.add(entry)
    table.remove(entry)
    assert len(table) == 0 and table.get(7) is None and table.next_deadline() is None
