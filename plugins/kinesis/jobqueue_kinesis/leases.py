"""The DynamoDB lease table: who reads which shard, and how far the group has got.

One item per (group, stream, shard), KCL-style: hash key ``lease_scope`` = ``<group>:<stream>``
(stream names cannot contain ``:``), range key ``shard_id``, then the checkpoint (a sequence
number, ``TRIM_HORIZON`` or ``SHARD_END``), the owner, a lease counter and an expiry time in
epoch milliseconds. Every change of ownership is a conditional write, so two consumers can
never both believe they took a lease:

* take: only if the counter is still the one read (nobody renewed, took or released since);
* renew, checkpoint, release: only if the caller is still the owner.

Renewals and ownership changes bump the counter; checkpoints do not, so a checkpoint never
makes a concurrent take fail, and the taker reads the newest checkpoint from the write itself.
Expiry uses wall clocks: hosts must agree on the time to well within a lease duration.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from jobqueue_kinesis.clients import Clients, aws_errors, error_code
from jobqueue_kinesis.provisioning import ensure_lease_table

TRIM_HORIZON = "TRIM_HORIZON"
SHARD_END = "SHARD_END"

_NAMES = {
    "#scope": "lease_scope",
    "#shard": "shard_id",
    "#checkpoint": "checkpoint",
    "#owner": "lease_owner",
    "#counter": "lease_counter",
    "#expires": "expires_at_ms",
}


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Lease:
    """One lease item as read from the table."""

    shard_id: str
    checkpoint: str
    owner: str | None
    counter: int
    expires_at_ms: int

    @property
    def finished(self) -> bool:
        """The group has read and acknowledged the whole (closed) shard."""
        return self.checkpoint == SHARD_END

    def held_by_other(self, me: str, now: int) -> bool:
        return self.owner is not None and self.owner != me and self.expires_at_ms > now

    def is_free(self, now: int) -> bool:
        return self.owner is None or self.expires_at_ms <= now


def _lease(item: dict[str, Any]) -> Lease:
    owner = item.get("lease_owner", {}).get("S")
    return Lease(
        shard_id=item["shard_id"]["S"],
        checkpoint=item["checkpoint"]["S"],
        owner=owner or None,
        counter=int(item["lease_counter"]["N"]),
        expires_at_ms=int(item.get("expires_at_ms", {}).get("N", "0")),
    )


def _names(expression: str) -> dict[str, str]:
    return {key: value for key, value in _NAMES.items() if key in expression}


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
        self._conditional(
            "put_item", Item=item, ConditionExpression="attribute_not_exists(#shard)"
        )

    def take(self, lease: Lease, owner: str, lease_ms: int) -> Lease | None:
        """Become the owner of ``lease`` if nobody touched it since it was read."""
        expression = "SET #owner = :owner, #expires = :expires, #counter = #counter + :one"
        attributes = self._conditional(
            "update_item",
            Key=self._key(lease.shard_id),
            UpdateExpression=expression,
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

    def renew(self, shard_id: str, owner: str, lease_ms: int) -> bool:
        """Push the expiry of a lease ``owner`` holds; False if it is no longer theirs."""
        expression = "SET #expires = :expires, #counter = #counter + :one"
        return self._owned_update(
            shard_id,
            owner,
            expression,
            {":expires": {"N": str(now_ms() + lease_ms)}, ":one": {"N": "1"}},
        )

    def checkpoint(self, shard_id: str, owner: str, checkpoint: str) -> bool:
        """Record how far ``owner`` has got; False if the lease is no longer theirs."""
        return self._owned_update(
            shard_id, owner, "SET #checkpoint = :checkpoint", {":checkpoint": {"S": checkpoint}}
        )

    def release(self, shard_id: str, owner: str, checkpoint: str | None = None) -> bool:
        """Give the lease up (writing ``checkpoint`` first if given) so others take it at once."""
        values: dict[str, Any] = {":zero": {"N": "0"}, ":one": {"N": "1"}}
        expression = "SET #expires = :zero, #counter = #counter + :one"
        if checkpoint is not None:
            expression += ", #checkpoint = :checkpoint"
            values[":checkpoint"] = {"S": checkpoint}
        return self._owned_update(shard_id, owner, expression + " REMOVE #owner", values)

    def delete(self, lease: Lease) -> None:
        """Remove a finished lease whose shard has left the stream (past retention)."""
        self._conditional(
            "delete_item",
            Key=self._key(lease.shard_id),
            ConditionExpression="#checkpoint = :end",
            ExpressionAttributeValues={":end": {"S": SHARD_END}},
        )

    def _owned_update(
        self, shard_id: str, owner: str, expression: str, values: dict[str, Any]
    ) -> bool:
        values = {**values, ":me": {"S": owner}}
        result = self._conditional(
            "update_item",
            Key=self._key(shard_id),
            UpdateExpression=expression,
            ConditionExpression="#owner = :me",
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
        )
        return result is not None

    def _key(self, shard_id: str) -> dict[str, Any]:
        return {"lease_scope": {"S": self.scope}, "shard_id": {"S": shard_id}}

    def _conditional(self, operation: str, **params: Any) -> dict[str, Any] | None:
        """Run a conditional write; None when its condition failed, else the new attributes."""
        expression = f"{params.get('UpdateExpression', '')} {params['ConditionExpression']}"
        params["ExpressionAttributeNames"] = _names(expression)
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
