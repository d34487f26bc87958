"""Deciding which leases a consumer should take: free ones first, then a fair share.

Pure logic over one read of the lease table, so that it can be tested without AWS. Every
consumer of a group runs it on its own; conditional writes settle races. Each consumer aims
for ``ceil(readable shards / live consumers)`` leases. It takes free (never owned, released
or expired) leases up to that; when none are free and it is still short, it asks the busiest
consumer to hand one lease over, only if that one holds at least two more than it does, so that
a move always narrows the gap and the group never oscillates. One request at a time: it asks
again only once the last one was served. The owner releases a requested lease after its
deliveries from that shard are acked, so healthy consumers never receive the same record, and
reserves it for the requester for a lease duration. A consumer holding nothing is known to
the others by its pending request, so that they count it when they work out their share.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from jobqueue_kinesis.leases import Lease
from jobqueue_kinesis.shards import Shard, parents_finished


@dataclass(frozen=True)
class Plan:
    """Leases to take now (``free``), or one to ask a busier owner for (``handoff``)."""

    free: list[Lease] = field(default_factory=list)
    handoff: Lease | None = None


def readable(shards: Mapping[str, Shard], leases: Mapping[str, Lease]) -> list[Lease]:
    """Leases the group can read now: shard listed, not finished, parents finished."""
    return [
        lease
        for shard_id, lease in sorted(leases.items())
        if shard_id in shards
        and not lease.finished
        and parents_finished(shards[shard_id], shards, leases)
    ]


def plan(
    me: str,
    now_ms: int,
    shards: Mapping[str, Shard],
    leases: Mapping[str, Lease],
    held: Collection[str],
    rng: random.Random | None = None,
) -> Plan:
    """What consumer ``me`` (reading the shards in ``held``) should take from ``leases``."""
    rng = rng or random.Random()
    candidates = readable(shards, leases)
    if not candidates:
        return Plan()
    owners = Counter(
        lease.owner
        for lease in candidates
        if lease.held_by_other(me, now_ms) and lease.owner is not None
    )
    # A consumer holding nothing yet is known by the handoff it asked for.
    requesters = {lease.handoff_to for lease in candidates if lease.handoff_to} - {me}
    workers = set(owners) | requesters | {me}
    mine = sum(1 for lease in candidates if lease.shard_id in held)
    target = math.ceil(len(candidates) / len(workers))
    wanted = target - mine
    if wanted <= 0:
        return Plan()
    free = [
        lease
        for lease in candidates
        if lease.shard_id not in held and lease.available_to(me, now_ms)
    ]
    if free:
        rng.shuffle(free)  # consumers starting together then rarely race for the same lease
        return Plan(free=free[:wanted])
    if not owners or any(
        lease.handoff_to == me and lease.held_by_other(me, now_ms) for lease in candidates
    ):
        return Plan()
    busiest, count = max(owners.items(), key=lambda item: (item[1], item[0]))
    theirs = [lease for lease in candidates if lease.owner == busiest and not lease.handoff_to]
    if count < mine + 2 or not theirs:
        return Plan()
    return Plan(handoff=rng.choice(theirs))
