"""Shard discovery with ListShards, and the parent/child order resharding imposes.

After a split or merge the parent shard is closed and its children receive new records for
its keys. To keep per-key order, a child is read only once every parent it has is finished:
its lease is checkpointed at ``SHARD_END``, or the parent has left the stream (past retention).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobqueue_kinesis.clients import aws_errors
from jobqueue_kinesis.leases import Lease


@dataclass(frozen=True, slots=True)
class Shard:
    """What the consumer needs to know about one shard."""

    shard_id: str
    parents: tuple[str, ...]
    ending_sequence: str | None

    @property
    def closed(self) -> bool:
        """No more records will arrive: the shard was split or merged."""
        return self.ending_sequence is not None


def list_shards(kinesis: Any, address: str, stream: str) -> dict[str, Shard]:
    """Every shard of ``stream`` that is still within retention, open or closed."""
    shards: dict[str, Shard] = {}
    params: dict[str, Any] = {"StreamName": stream}
    while True:
        with aws_errors(address, f"ListShards of stream {stream!r}"):
            response = kinesis.list_shards(**params)
        for item in response.get("Shards", []):
            parents = tuple(
                parent
                for parent in (item.get("ParentShardId"), item.get("AdjacentParentShardId"))
                if parent
            )
            ending = item.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
            shards[item["ShardId"]] = Shard(item["ShardId"], parents, ending)
        token = response.get("NextToken")
        if not token:
            return shards
        params = {"NextToken": token}


def parents_finished(
    shard: Shard, shards: Mapping[str, Shard], leases: Mapping[str, Lease]
) -> bool:
    """May the group read ``shard`` yet, given the leases of its parents?"""
    for parent in shard.parents:
        if parent not in shards:
            continue  # trimmed: nothing of it is left to read
        lease = leases.get(parent)
        if lease is None or not lease.finished:
            return False
    return True
