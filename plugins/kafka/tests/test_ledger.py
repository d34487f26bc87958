"""OffsetLedger: only the contiguous acked prefix of a partition becomes committable."""

from __future__ import annotations

from jobqueue_kafka.ledger import OffsetLedger


def test_out_of_order_acks_commit_only_the_contiguous_prefix() -> None:
    """Acking 2 and 1 before 0 commits nothing; acking 0 then commits up to 3."""
    ledger = OffsetLedger()
    ledger.assign([("t", 0)])
    handles = [ledger.handed_out("t", 0, offset) for offset in range(4)]
    for index in (2, 1):
        assert ledger.ack(handles[index])
    assert ledger.uncommitted() == {}
    ledger.ack(handles[0])
    assert ledger.uncommitted() == {("t", 0): 3}


def test_gaps_in_offsets_are_fine() -> None:
    """Offsets need not be consecutive (compaction, transaction markers)."""
    ledger = OffsetLedger()
    ledger.assign([("t", 0)])
    first, second = ledger.handed_out("t", 0, 10), ledger.handed_out("t", 0, 15)
    ledger.ack(second)
    ledger.ack(first)
    assert ledger.uncommitted() == {("t", 0): 16}


def test_committed_offsets_are_not_offered_again() -> None:
    """After a commit is recorded, the same offset is not proposed again."""
    ledger = OffsetLedger()
    ledger.assign([("t", 0), ("t", 1)])
    ledger.ack(ledger.handed_out("t", 0, 0))
    ledger.ack(ledger.handed_out("t", 1, 7))
    assert ledger.uncommitted() == {("t", 0): 1, ("t", 1): 8}
    ledger.committed({("t", 0): 1})
    assert ledger.uncommitted() == {("t", 1): 8}


def test_handles_of_a_revoked_partition_are_stale() -> None:
    """After revoke (even if reassigned), old handles are refused and change nothing."""
    ledger = OffsetLedger()
    ledger.assign([("t", 0)])
    old = ledger.handed_out("t", 0, 0)
    ledger.revoke([("t", 0)])
    ledger.assign([("t", 0)])
    assert not ledger.ack(old)
    fresh = ledger.handed_out("t", 0, 0)
    assert ledger.uncommitted() == {}
    assert ledger.ack(fresh)
    assert ledger.uncommitted() == {("t", 0): 1}


def test_a_handle_from_another_consumer_is_refused() -> None:
    """Generations are unique per process, so a foreign handle never matches."""
    mine, theirs = OffsetLedger(), OffsetLedger()
    mine.assign([("t", 0)])
    theirs.assign([("t", 0)])
    foreign = theirs.handed_out("t", 0, 0)
    mine.handed_out("t", 0, 0)
    assert not mine.ack(foreign)
    assert mine.uncommitted() == {}


def test_double_ack_and_unknown_offsets_are_ignored() -> None:
    """Acking twice, or an offset never handed out, does not move the prefix."""
    ledger = OffsetLedger()
    ledger.assign([("t", 0)])
    first = ledger.handed_out("t", 0, 0)
    second = ledger.handed_out("t", 0, 1)
    ledger.ack(second)
    ledger.ack(second)
    assert ledger.in_flight() == 1
    assert ledger.uncommitted() == {}
    ledger.ack(first)
    assert ledger.uncommitted() == {("t", 0): 2}
    assert ledger.in_flight() == 0
