"""OffsetLedger: only the contiguous acked prefix of a partition becomes committable."""

from __future__ import annotations

from jobqueue_kafka import acked_ranges
from jobqueue_kafka.ledger import Handle, OffsetLedger


def out(ledger: OffsetLedger, partition: int, offset: int) -> Handle:
    handle = ledger.handed_out("t", partition, offset)
    assert handle is not None
    return handle


def test_out_of_order_acks_commit_only_the_contiguous_prefix() -> None:
    """Acking 2 and 1 before 0 keeps the offset at 0; acking 0 then commits up to 3."""
    ledger = OffsetLedger()
    ledger.assign({("t", 0): None})
    handles = [out(ledger, 0, offset) for offset in range(4)]
    for index in (2, 1):
        assert ledger.ack(handles[index])
    assert [offset for offset, _ in ledger.uncommitted().values()] == [0]
    ledger.ack(handles[0])
    assert ledger.uncommitted() == {("t", 0): (3, "")}


def test_gaps_in_offsets_are_fine() -> None:
    """Offsets need not be consecutive (compaction, transaction markers)."""
    ledger = OffsetLedger()
    ledger.assign({("t", 0): None})
    first, second = out(ledger, 0, 10), out(ledger, 0, 15)
    ledger.ack(second)
    ledger.ack(first)
    assert ledger.uncommitted() == {("t", 0): (16, "")}


def test_committed_offsets_are_not_offered_again() -> None:
    """After a commit is recorded, the same offset is not proposed again."""
    ledger = OffsetLedger()
    ledger.assign({("t", 0): None, ("t", 1): None})
    ledger.ack(out(ledger, 0, 0))
    ledger.ack(out(ledger, 1, 7))
    assert ledger.uncommitted() == {("t", 0): (1, ""), ("t", 1): (8, "")}
    ledger.committed({("t", 0): (1, "")})
    assert ledger.uncommitted() == {("t", 1): (8, "")}


def test_handles_of_a_revoked_partition_are_stale() -> None:
    """After revoke (even if reassigned), old handles are refused and change nothing."""
    ledger = OffsetLedger()
    ledger.assign({("t", 0): None})
    old = out(ledger, 0, 0)
    ledger.revoke([("t", 0)])
    ledger.assign({("t", 0): None})
    assert not ledger.ack(old)
    fresh = out(ledger, 0, 0)
    assert ledger.uncommitted() == {}
    assert ledger.ack(fresh)
    assert ledger.uncommitted() == {("t", 0): (1, "")}


def test_a_handle_from_another_consumer_is_refused() -> None:
    """Generations are unique per process, so a foreign handle never matches."""
    mine, theirs = OffsetLedger(), OffsetLedger()
    mine.assign({("t", 0): None})
    theirs.assign({("t", 0): None})
    foreign = out(theirs, 0, 0)
    out(mine, 0, 0)
    assert not mine.ack(foreign)
    assert mine.uncommitted() == {}


def test_double_ack_and_unknown_offsets_are_ignored() -> None:
    """Acking twice, or an offset never handed out, does not move the prefix."""
    ledger = OffsetLedger()
    ledger.assign({("t", 0): None})
    first = out(ledger, 0, 0)
    second = out(ledger, 0, 1)
    ledger.ack(second)
    ledger.ack(second)
    ledger.ack(Handle("t", 0, 7, second.generation))  # never handed out
    assert ledger.in_flight() == 1
    assert ledger.uncommitted() == {("t", 0): (0, "jq1:1+0")}
    ledger.ack(first)
    assert ledger.uncommitted() == {("t", 0): (2, "")}
    assert ledger.in_flight() == 0


def test_records_of_unassigned_partitions_get_no_handle() -> None:
    """A record fetched for a partition this consumer does not hold is not handed out."""
    ledger = OffsetLedger()
    ledger.assign({("t", 0): None})
    assert ledger.handed_out("t", 1, 0) is None
    handle = out(ledger, 0, 0)
    assert ledger.is_current(handle)
    ledger.revoke([("t", 0)])
    assert not ledger.is_current(handle)


def test_acks_past_a_gap_travel_in_the_commit_metadata() -> None:
    """Acks beyond the first un-acked record are stored as ranges next to the offset."""
    ledger = OffsetLedger()
    ledger.assign({("t", 0): (10, "")})
    handles = [out(ledger, 0, offset) for offset in range(10, 16)]
    for index in (1, 2, 4):
        ledger.ack(handles[index])
    offset, metadata = ledger.uncommitted()[("t", 0)]
    assert offset == 10
    assert acked_ranges.decode(offset, metadata) == [(11, 12), (14, 14)]


def test_a_new_owner_skips_what_the_previous_one_acked() -> None:
    """Offsets acked past the committed one by an earlier owner are not handed out again,
    and the new owner's commits keep the ranges it has not reached yet."""
    stored = (10, acked_ranges.encode(10, [(11, 12), (20, 21)]))
    ledger = OffsetLedger()
    ledger.assign({("t", 0): stored})
    assert ledger.uncommitted() == {}
    delivered = [o for o in range(10, 15) if ledger.handed_out("t", 0, o) is not None]
    assert delivered == [10, 13, 14]
    ledger2 = OffsetLedger()
    ledger2.assign({("t", 0): stored})
    handles = {o: ledger2.handed_out("t", 0, o) for o in range(10, 15)}
    ten = handles[10]
    assert ten is not None
    ledger2.ack(ten)
    offset, metadata = ledger2.uncommitted()[("t", 0)]
    assert offset == 13
    assert acked_ranges.decode(offset, metadata) == [(20, 21)]


def test_metadata_that_is_not_ours_is_ignored() -> None:
    """Metadata another tool wrote (or garbage) only costs redeliveries, never skips."""
    assert acked_ranges.decode(5, "some-other-tool") == []
    assert acked_ranges.decode(5, "jq1:zz+1") == []
    assert acked_ranges.decode(5, None) == []


def test_metadata_is_bounded() -> None:
    """Ranges that do not fit the limit are dropped (redelivered), never truncated badly."""
    ranges = [(i * 3, i * 3) for i in range(1, 2000)]
    text = acked_ranges.encode(0, ranges, limit=100)
    assert len(text) <= 100
    decoded = acked_ranges.decode(0, text)
    assert decoded and set(decoded) <= set(ranges)
