"""The DynamoDB lease table: who reads which shard, and how far the group has got.

One item per (group, stream, shard), KCL-style: hash key ``lease_scope`` = ``<group>:<stream>``
(stream names cannot contain ``:``), range key ``shard_id``, then the checkpoint (a sequence
number, ``TRIM_HORIZON`` or ``SHARD_END``), the owner, a lease counter and an expiry time in
epoch milliseconds. Beyond KCL, ``acked_runs`` lists the runs of records acked *past* the
checkpoint (acks come out of order), so that a new owner skips them instead of delivering them
again, and ``handoff_to`` names a consumer that asked the owner for the lease (see `consumer`).

Every change of ownership is a conditional write, so two consumers never both hold a lease:

* take: only if the counter is still the one read (nobody renewed, took or released since);
* renew, checkpoint, release: only if the caller is still the owner.

Renewals and ownership changes bump the counter; checkpoints do not, so a checkpoint never
makes a concurrent take fail, and the taker reads the newest checkpoint from the write itself.
Expiry uses wall clocks: hosts must agree on the time to well within a lease duration.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from jobqueue_kinesis.clients import Clients, aws_errors, error_code
from jobqueue_kinesis.provisioning import ensure_lease_table

TRIM_HORIZON = "TRIM_HORIZON"
SHARD_END = "SHARD_END"

Run = tuple[str, str]
"""Records from the first to the last sequence number (inclusive), all acked."""

_NAMES = {
    "#scope": "lease_scope",
    "#shard": "shard_id",
    "#checkpoint": "checkpoint",
    "#runs": "acked_runs",
    "#owner": "lease_owner",
    "#counter": "lease_counter",
    "#expires": "expires_at_ms",
    "#handoff": "handoff_to",
}


def now_ms() -> int:
    return int(time.time() * 1000)


def encode_runs(runs: Sequence[Run]) -> str:
    return ",".join(f"{first}-{last}" for first, last in runs)


def decode_runs(text: str) -> tuple[Run, ...]:
    runs: list[Run] = []
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        if first.isdigit() and last.isdigit():
            runs.append((first, last))
    return tuple(runs)


@dataclass(frozen=True, slots=True)
class Lease:
    """One lease item as read from the table."""

    shard_id: str
    checkpoint: str = TRIM_HORIZON
    owner: str | None = None
    counter: int = 0
    expires_at_ms: int = 0
    acked_runs: tuple[Run, ...] = ()
    handoff_to: str | None = None

    @property
    def finished(self) -> bool:
        """The group has read and acknowledged the whole (closed) shard."""
        return self.checkpoint == SHARD_END

    def held_by_other(self, me: str, now: int) -> bool:
        return self.owner is not None and self.owner != me and self.expires_at_ms > now

    def reserved_for_other(self, me: str, now: int) -> bool:
        """Released by a handoff to another consumer, which has it to itself for a while."""
        return self.owner is None and self.handoff_to not in (None, me) and self.expires_at_ms > now

    def available_to(self, me: str, now: int) -> bool:
        return not (self.held_by_other(me, now) or self.reserved_for_other(me, now))


def _lease(item: dict[str, Any]) -> Lease:
    return Lease(
        shard_id=item["shard_id"]["S"],
        checkpoint=item["checkpoint"]["S"],
        owner=item.get("lease_owner", {}).get("S") or None,
        counter=int(item["lease_counter"]["N"]),
        expires_at_ms=int(item.get("expires_at_ms", {}).get("N", "0")),
        acked_runs=decode_runs(item.get("acked_runs", {}).get("S", "")),
        handoff_to=item.get("handoff_to", {}).get("S") or None,
    )


class LeaseTable:
    """The leases of one (group, stream) pair in table ``table``."""

    def __init__(self, clients: Clients, table: str, group: str, stream: str) -> None:
        self._db = clients.dynamodb
        self._address = clients.dynamodb_address
        self.table = table
        self.scope = f"{group}:{stream}"

    def ensure(self) -> None:
        """Create the table unless it exists, and wait until it is usable."""
        ensure_lease_table(self._db, self._address, self.table)

    def list(self) -> dict[str, Lease]:
        """Every lease of this scope, read consistently."""
        leases: dict[str, Lease] = {}
        for item in self._query():
            lease = _lease(item)
            leases[lease.shard_id] = lease
        return leases

    def create(self, shard_id: str) -> None:
        """Add a free lease starting at the trim horizon, unless one exists."""
        item = {
            "lease_scope": {"S": self.scope},
            "shard_id": {"S": shard_id},
            "checkpoint": {"S": TRIM_HORIZON},
            "lease_counter": {"N": "0"},
            "expires_at_ms": {"N": "0"},
        }
        self._write("put_item", Item=item, ConditionExpression="attribute_not_exists(#shard)")

    def take(self, lease: Lease, owner: str, lease_ms: int) -> Lease | None:
        """Become the owner of ``lease`` if nobody touched it since it was read."""
        attributes = self._write(
            "update_item",
            Key=self._key(lease.shard_id),
            UpdateExpression="SET #owner = :owner, #expires = :expires, "
            "#counter = #counter + :one REMOVE #handoff",
            ConditionExpression="#counter = :counter AND #checkpoint <> :end",
            ExpressionAttributeValues={
                ":owner": {"S": owner},
                ":expires": {"N": str(now_ms() + lease_ms)},
                ":one": {"N": "1"},
                ":counter": {"N": str(lease.counter)},
                ":end": {"S": SHARD_END},
            },
            ReturnValues="ALL_NEW",
        )
        return None if attributes is None else _lease(attributes)

    def renew(self, shard_id: str, owner: str, lease_ms: int) -> Lease | None:
        """Push the expiry of a lease ``owner`` holds; None if it is no longer theirs."""
        return self._owned_update(
            shard_id,
            owner,
            "SET #expires = :expires, #counter = #counter + :one",
            {":expires": {"N": str(now_ms() + lease_ms)}, ":one": {"N": "1"}},
        )

    def checkpoint(self, shard_id: str, owner: str, checkpoint: str, runs: Sequence[Run]) -> bool:
        """Record how far ``owner`` has got; False if the lease is no longer theirs."""
        updated = self._owned_update(
            shard_id,
            owner,
            "SET #checkpoint = :checkpoint, #runs = :runs",
            {":checkpoint": {"S": checkpoint}, ":runs": {"S": encode_runs(runs)}},
        )
        return updated is not None

    def release(
        self,
        shard_id: str,
        owner: str,
        checkpoint: str,
        runs: Sequence[Run],
        *,
        reserve_ms: int = 0,
    ) -> bool:
        """Write the checkpoint and give the lease up, so that others can take it at once.

        With ``reserve_ms`` (a handoff) the consumer that asked for the lease keeps the first
        claim on it for that long; otherwise the request, if any, is dropped.
        """
        expression = (
            "SET #checkpoint = :checkpoint, #runs = :runs, #expires = :expires, "
            "#counter = #counter + :one REMOVE #owner"
        )
        updated = self._owned_update(
            shard_id,
            owner,
            expression if reserve_ms else expression + ", #handoff",
            {
                ":checkpoint": {"S": checkpoint},
                ":runs": {"S": encode_runs(runs)},
                ":expires": {"N": str(now_ms() + reserve_ms if reserve_ms else 0)},
                ":one": {"N": "1"},
            },
        )
        return updated is not None

    def request_handoff(self, lease: Lease, requester: str) -> bool:
        """Ask the owner of ``lease`` to release it once its deliveries are acked."""
        attributes = self._write(
            "update_item",
            Key=self._key(lease.shard_id),
            UpdateExpression="SET #handoff = :requester",
            ConditionExpression="#owner = :owner",
            ExpressionAttributeValues={
                ":requester": {"S": requester},
                ":owner": {"S": lease.owner or ""},
            },
            ReturnValues="UPDATED_NEW",
        )
        return attributes is not None

    def delete(self, lease: Lease) -> None:
        """Remove a finished lease whose shard has left the stream (past retention)."""
        self._write(
            "delete_item",
            Key=self._key(lease.shard_id),
            ConditionExpression="#checkpoint = :end",
            ExpressionAttributeValues={":end": {"S": SHARD_END}},
        )

    def _owned_update(
        self, shard_id: str, owner: str, expression: str, values: dict[str, Any]
    ) -> Lease | None:
        attributes = self._write(
            "update_item",
            Key=self._key(shard_id),
            UpdateExpression=expression,
            ConditionExpression="#owner = :me",
            ExpressionAttributeValues={**values, ":me": {"S": owner}},
            ReturnValues="ALL_NEW",
        )
        return None if attributes is None else _lease(attributes)

    def _key(self, shard_id: str) -> dict[str, Any]:
        return {"lease_scope": {"S": self.scope}, "shard_id": {"S": shard_id}}

    def _write(self, operation: str, **params: Any) -> dict[str, Any] | None:
        """Run a conditional write; None when its condition failed, else the new attributes."""
        expression = f"{params.get('UpdateExpression', '')} {params['ConditionExpression']}"
        params["ExpressionAttributeNames"] = {
            key: value for key, value in _NAMES.items() if key in expression
        }
        params["TableName"] = self.table
        with aws_errors(self._address, f"DynamoDB {operation} on lease table {self.table!r}"):
            try:
                response = getattr(self._db, operation)(**params)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return None
                raise
        attributes: dict[str, Any] = response.get("Attributes", {})
        return attributes

    def _query(self) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#scope = :scope",
            "ExpressionAttributeNames": {"#scope": "lease_scope"},
            "ExpressionAttributeValues": {":scope": {"S": self.scope}},
            "ConsistentRead": True,
        }
        while True:
            with aws_errors(self._address, f"DynamoDB Query on lease table {self.table!r}"):
                response = self._db.query(**params)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last
