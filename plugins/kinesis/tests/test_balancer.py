"""Lease planning: free leases first, a fair share over time, children after their parents."""

from __future__ import annotations

import random

from jobqueue_kinesis.balancer import Plan, plan, readable
from jobqueue_kinesis.leases import SHARD_END, Lease
from jobqueue_kinesis.shards import Shard

NOW = 1_000_000
LIVE = NOW + 10_000
EXPIRED = NOW - 1


def _shards(*ids: str) -> dict[str, Shard]:
    return {shard_id: Shard(shard_id, (), None) for shard_id in ids}


def _plan(me: str, leases: list[Lease], held: set[str]) -> Plan:
    shards = _shards(*(lease.shard_id for lease in leases))
    by_id = {lease.shard_id: lease for lease in leases}
    return plan(me, NOW, shards, by_id, held, random.Random(1))


def test_a_lone_consumer_takes_every_free_lease() -> None:
    """Nobody else holds anything: the target is every shard."""
    leases = [Lease(f"s{i}") for i in range(4)]
    decided = _plan("me", leases, set())
    assert sorted(lease.shard_id for lease in decided.free) == ["s0", "s1", "s2", "s3"]
    assert decided.handoff is None


def test_free_leases_are_taken_only_up_to_the_fair_share() -> None:
    """With one other live owner holding one of four, a newcomer takes two of the three free."""
    leases = [Lease("s0", owner="other", expires_at_ms=LIVE)] + [Lease(f"s{i}") for i in (1, 2, 3)]
    decided = _plan("me", leases, set())
    assert len(decided.free) == 2
    assert "s0" not in {lease.shard_id for lease in decided.free}


def test_expired_leases_are_free() -> None:
    """A lease whose owner stopped renewing is taken like a free one."""
    leases = [Lease("s0", owner="dead", expires_at_ms=EXPIRED, counter=7)]
    assert [lease.shard_id for lease in _plan("me", leases, set()).free] == ["s0"]


def test_a_busier_owner_is_asked_for_one_lease() -> None:
    """Holding 0 of 4 while another holds 4: ask for one (not take), one at a time."""
    leases = [Lease(f"s{i}", owner="busy", expires_at_ms=LIVE) for i in range(4)]
    decided = _plan("me", leases, set())
    assert decided.free == []
    assert decided.handoff is not None and decided.handoff.owner == "busy"


def test_no_handoff_when_the_gap_is_below_two() -> None:
    """3 shards, 2 consumers holding 2 and 1: moving one would only swap the imbalance."""
    leases = [
        Lease("s0", owner="other", expires_at_ms=LIVE),
        Lease("s1", owner="other", expires_at_ms=LIVE),
        Lease("s2", owner="me", expires_at_ms=LIVE),
    ]
    decided = _plan("me", leases, {"s2"})
    assert decided.free == [] and decided.handoff is None


def test_only_one_handoff_request_at_a_time() -> None:
    """While a request of ours is pending, no second one is made."""
    leases = [Lease(f"s{i}", owner="busy", expires_at_ms=LIVE) for i in range(4)]
    leases[0] = Lease("s0", owner="busy", expires_at_ms=LIVE, handoff_to="me")
    assert _plan("me", leases, set()).handoff is None


def test_children_wait_for_their_parent_to_finish() -> None:
    """A child shard is readable only once its parent is checkpointed at SHARD_END."""
    shards = {
        "parent": Shard("parent", (), "99"),
        "child-a": Shard("child-a", ("parent",), None),
        "child-b": Shard("child-b", ("parent",), None),
    }
    running = {"parent": Lease("parent"), "child-a": Lease("child-a"), "child-b": Lease("child-b")}
    assert [lease.shard_id for lease in readable(shards, running)] == ["parent"]
    finished = running | {"parent": Lease("parent", checkpoint=SHARD_END)}
    assert [lease.shard_id for lease in readable(shards, finished)] == ["child-a", "child-b"]


def test_a_parent_past_retention_does_not_block_its_children() -> None:
    """A parent that left the stream has nothing left to read."""
    shards = {"child": Shard("child", ("gone",), None)}
    assert [lease.shard_id for lease in readable(shards, {"child": Lease("child")})] == ["child"]


def test_a_handed_over_lease_is_reserved_for_the_requester() -> None:
    """The releasing owner does not take back what it just handed over; the requester does."""
    leases = [Lease("s0", owner=None, handoff_to="new", expires_at_ms=LIVE)] + [
        Lease(f"s{i}", owner="me", expires_at_ms=LIVE) for i in (1, 2, 3)
    ]
    assert _plan("me", leases, {"s1", "s2", "s3"}).free == []
    mine = _plan("new", leases, set())
    assert [lease.shard_id for lease in mine.free] == ["s0"]


def test_an_unclaimed_reservation_lapses() -> None:
    """If the requester never comes for it, the lease is free again once the reservation ends."""
    leases = [Lease("s0", owner=None, handoff_to="gone", expires_at_ms=EXPIRED)]
    assert [lease.shard_id for lease in _plan("me", leases, set()).free] == ["s0"]


def test_a_consumer_known_only_by_its_request_counts_towards_the_share() -> None:
    """An owner of four with a pending request from a newcomer aims for two, not four."""
    leases = [Lease(f"s{i}", owner="me", expires_at_ms=LIVE) for i in range(3)] + [
        Lease("s3", owner=None, expires_at_ms=0, handoff_to="new")
    ]
    assert _plan("me", leases, {"s0", "s1", "s2"}).free == []
