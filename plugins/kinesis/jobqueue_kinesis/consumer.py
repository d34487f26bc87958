"""Reading a stream as one member of a group, KCL-style, without the Java KCL.

The consumer holds leases on some shards (see `leases` and `balancer`) and reads only those,
with GetRecords from the lease's checkpoint on. Each poll (and ack) renews the leases that are
due, so ``lease_ms`` is how long a consumer may go without polling or acking before its shards
(and the records it has not acked) may move to another consumer of the group; a consumer that
dies stops renewing and its shards move once its leases expire.

Acks advance a shard's checkpoint over the contiguous acked prefix and record the acked runs
past it (`tracking`). A shard whose lease is lost is dropped with its in-flight deliveries:
their acks are ignored and the new owner delivers them again. A shard another consumer asked
for (a handoff, to even out the work) is drained instead: no more reads, then released once
its deliveries are acked, or after ``lease_ms`` at most. A closed shard read to its end and
fully acked is checkpointed ``SHARD_END`` and released, which lets its children be read.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from jobqueue.contract import Consumer, Delivery
from jobqueue.errors import BrokerUnavailable, JobQueueError
from jobqueue_kinesis import balancer
from jobqueue_kinesis.clients import Clients, error_code, translate
from jobqueue_kinesis.config import BROKER_NAME
from jobqueue_kinesis.keys import record_key
from jobqueue_kinesis.leases import SHARD_END, TRIM_HORIZON, Lease, LeaseTable, now_ms
from jobqueue_kinesis.shards import Shard, list_shards
from jobqueue_kinesis.tracking import AckTracker

log = logging.getLogger(__name__)

MAX_GET_RECORDS = 10_000
THROTTLE_PAUSE_S = 1.0
# A lease is read from only while its last renewal is younger than this share of lease_ms,
# so that the holder stops before another consumer may consider the lease expired.
TRUSTED_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class Handle:
    """What a delivery carries back to `KinesisConsumer.ack`."""

    owner: str
    shard_id: str
    generation: int
    sequence: str


@dataclass(eq=False)
class ShardState:
    """A shard this consumer holds a lease on, and how far it has read it."""

    shard_id: str
    generation: int
    checkpoint: str
    renewed_at: float
    tracker: AckTracker
    position: str | None = None
    iterator: str | None = None
    dirty: bool = False
    at_end: bool = False
    draining_since: float | None = None
    next_read_at: float = 0.0


class KinesisConsumer(Consumer):
    """Reads ``stream`` as a member of a group; shards are shared through ``leases``."""

    def __init__(
        self,
        clients: Clients,
        leases: LeaseTable,
        stream: str,
        *,
        owner_prefix: str,
        lease_ms: int,
        idle_poll_s: float,
    ) -> None:
        self._clients = clients
        self._leases = leases
        self._stream = stream
        self.owner = f"{owner_prefix}-{uuid.uuid4().hex[:12]}"
        self._lease_ms = lease_ms
        self._lease_s = lease_ms / 1000
        self._idle_s = idle_poll_s
        self._balance_every_s = min(max(self._lease_s / 3, 0.5), 2.0)
        self._next_balance = 0.0
        self._shards: dict[str, Shard] = {}
        self._owned: dict[str, ShardState] = {}
        self._generation = 0
        self._turn = 0
        self._table_ready = False
        self._closed = False

    @property
    def held_shards(self) -> list[str]:
        """The shards this consumer holds leases on (for tests and diagnostics)."""
        return sorted(self._owned)

    # -- the Consumer contract -------------------------------------------------------------

    def poll(self, max_records: int, timeout_s: float) -> list[Delivery]:
        if self._closed:
            raise BrokerUnavailable(BROKER_NAME, self._clients.kinesis_address, "consumer closed")
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while True:
            self._maintain()
            deliveries = self._read_round(max_records) if max_records > 0 else []
            remaining = deadline - time.monotonic()
            if deliveries or remaining <= 0:
                return deliveries
            time.sleep(min(self._idle_s, remaining))

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            handle = delivery.handle
            if not isinstance(handle, Handle) or handle.owner != self.owner:
                continue
            state = self._owned.get(handle.shard_id)
            if state is None or state.generation != handle.generation:
                continue  # the lease moved on; the new owner delivers this record again
            if state.tracker.ack(handle.sequence):
                self._advance(state)
                state.dirty = True
        if deliveries:
            self._renew_due()  # a consumer that acks is alive, even while it does not poll
        self._flush_checkpoints()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for state in list(self._owned.values()):
            try:
                self._release(state)
            except JobQueueError as exc:
                log.warning(
                    "could not release the lease on shard %s of stream %r; it frees itself "
                    "%d ms after its last renewal: %s",
                    state.shard_id,
                    self._stream,
                    self._lease_ms,
                    exc,
                )
        self._owned.clear()

    # -- leases ----------------------------------------------------------------------------

    def _maintain(self) -> None:
        """Everything a poll does besides reading: renew, finish, hand off, balance."""
        if not self._table_ready:
            self._leases.ensure()
            self._table_ready = True
        self._renew_due()
        self._flush_checkpoints()
        for state in list(self._owned.values()):
            if state.at_end and state.tracker.idle:
                self._release(state)
                log.info("shard %s of stream %r finished", state.shard_id, self._stream)
                self._next_balance = 0.0  # its children may be readable now
            elif state.draining_since is not None and (
                state.tracker.idle or time.monotonic() - state.draining_since > self._lease_s
            ):
                self._release(state, reserve_ms=self._lease_ms)
                log.info("shard %s of stream %r handed over", state.shard_id, self._stream)
        if time.monotonic() >= self._next_balance:
            self._balance()

    def _renew_due(self) -> None:
        due = time.monotonic() - self._lease_s / 3
        for state in list(self._owned.values()):
            if state.renewed_at > due:
                continue
            sent = time.monotonic()
            lease = self._leases.renew(state.shard_id, self.owner, self._lease_ms)
            if lease is None:
                self._lost(state)
                continue
            state.renewed_at = sent
            self._note_handoff(state, lease)

    def _note_handoff(self, state: ShardState, lease: Lease) -> None:
        if lease.handoff_to and lease.handoff_to != self.owner and state.draining_since is None:
            state.draining_since = time.monotonic()

    def _lost(self, state: ShardState) -> None:
        self._owned.pop(state.shard_id, None)
        self._next_balance = 0.0
        log.info(
            "lease on shard %s of stream %r lost; %d un-acked deliveries will be redelivered",
            state.shard_id,
            self._stream,
            state.tracker.unacked,
        )

    def _release(self, state: ShardState, *, reserve_ms: int = 0) -> None:
        self._owned.pop(state.shard_id, None)
        self._advance(state)
        if state.at_end and state.tracker.idle:
            self._leases.release(state.shard_id, self.owner, SHARD_END, ())
            return
        runs = state.tracker.runs()
        self._leases.release(
            state.shard_id, self.owner, state.checkpoint, runs, reserve_ms=reserve_ms
        )

    def _balance(self) -> None:
        self._shards = list_shards(
            self._clients.kinesis, self._clients.kinesis_address, self._stream
        )
        leases = self._leases.list()
        for shard_id in sorted(self._shards.keys() - leases.keys()):
            self._leases.create(shard_id)
            leases[shard_id] = Lease(shard_id)
        for shard_id, lease in leases.items():
            if lease.finished and shard_id not in self._shards:
                self._leases.delete(lease)
        for state in list(self._owned.values()):
            current = leases.get(state.shard_id)
            if current is None or current.owner != self.owner:
                self._lost(state)
            else:
                self._note_handoff(state, current)
        decided = balancer.plan(self.owner, now_ms(), self._shards, leases, self._owned)
        for lease in decided.free:
            self._take(lease)
        if decided.handoff is not None and self._leases.request_handoff(
            decided.handoff, self.owner
        ):
            log.info(
                "asked consumer %s to hand shard %s of stream %r over",
                decided.handoff.owner,
                decided.handoff.shard_id,
                self._stream,
            )
        self._next_balance = time.monotonic() + self._balance_every_s

    def _take(self, lease: Lease) -> None:
        sent = time.monotonic()
        taken = self._leases.take(lease, self.owner, self._lease_ms)
        if taken is None:
            return
        self._generation += 1
        state = ShardState(
            shard_id=taken.shard_id,
            generation=self._generation,
            checkpoint=taken.checkpoint,
            renewed_at=sent,
            tracker=AckTracker(skip=taken.acked_runs),
        )
        if taken.checkpoint != TRIM_HORIZON:
            state.position = taken.checkpoint
        self._owned[state.shard_id] = state

    # -- checkpoints -----------------------------------------------------------------------

    def _advance(self, state: ShardState) -> None:
        safe = state.tracker.advance()
        if safe is not None:
            state.checkpoint = safe
            state.dirty = True

    def _flush_checkpoints(self) -> None:
        """Write every changed checkpoint; a failed write stays pending for the next call."""
        failure: JobQueueError | None = None
        for state in list(self._owned.values()):
            if not state.dirty:
                continue
            try:
                written = self._leases.checkpoint(
                    state.shard_id, self.owner, state.checkpoint, state.tracker.runs()
                )
            except JobQueueError as exc:
                failure = failure or exc
                continue
            if written:
                state.dirty = False
            else:
                self._lost(state)
        if failure is not None:
            raise failure

    # -- reading ---------------------------------------------------------------------------

    def _read_round(self, max_records: int) -> list[Delivery]:
        """One GetRecords on each readable shard that is due, until ``max_records`` are in hand."""
        deliveries: list[Delivery] = []
        states = list(self._owned.values())
        if not states:
            return deliveries
        self._turn = (self._turn + 1) % len(states)
        now = time.monotonic()
        trusted_since = now - self._lease_s * TRUSTED_SHARE
        for state in states[self._turn :] + states[: self._turn]:
            if (
                state.at_end
                or state.draining_since is not None
                or now < state.next_read_at
                or state.renewed_at < trusted_since
            ):
                continue
            self._read_shard(state, max_records - len(deliveries), deliveries)
            if len(deliveries) >= max_records:
                break
        return deliveries

    def _read_shard(self, state: ShardState, limit: int, into: list[Delivery]) -> None:
        if state.iterator is None:
            state.iterator = self._iterator(state)
            if state.iterator is None:
                return
        try:
            response = self._clients.kinesis.get_records(
                ShardIterator=state.iterator, Limit=min(limit, MAX_GET_RECORDS)
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            self._read_failed(state, exc)
            return
        records: list[dict[str, Any]] = response.get("Records", [])
        for record in records:
            sequence = record["SequenceNumber"]
            state.position = sequence
            if state.tracker.delivered(sequence):
                handle = Handle(self.owner, state.shard_id, state.generation, sequence)
                into.append(Delivery(record["Data"], record_key(record["PartitionKey"]), handle))
        self._advance(state)  # records acked by a previous owner may extend the prefix
        state.iterator = response.get("NextShardIterator")
        if state.iterator is None or (not records and self._past_end(state)):
            state.at_end = True
        if not records:
            state.next_read_at = time.monotonic() + self._idle_s

    def _past_end(self, state: ShardState) -> bool:
        """Emulators never end a closed shard's iterator; compare with its last sequence."""
        shard = self._shards.get(state.shard_id)
        if shard is None or shard.ending_sequence is None:
            return False
        return int(shard.ending_sequence) <= int(state.position or 0)

    def _iterator(self, state: ShardState) -> str | None:
        params: dict[str, Any] = {"StreamName": self._stream, "ShardId": state.shard_id}
        if state.position is not None:
            params["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            params["StartingSequenceNumber"] = state.position
        else:
            params["ShardIteratorType"] = "TRIM_HORIZON"
        try:
            response = self._clients.kinesis.get_shard_iterator(**params)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            self._read_failed(state, exc)
            return None
        iterator = response.get("ShardIterator")
        if iterator is None:
            state.at_end = True
            return None
        return str(iterator)

    def _read_failed(self, state: ShardState, exc: Exception) -> None:
        """Throttling and expired iterators are part of reading; the rest is an outage."""
        code = error_code(exc)
        if code == "ExpiredIteratorException":
            state.iterator = None
        elif code in ("ProvisionedThroughputExceededException", "KMSThrottlingException"):
            state.next_read_at = time.monotonic() + THROTTLE_PAUSE_S
        else:
            raise translate(
                exc, self._clients.kinesis_address, f"reading shard {state.shard_id}"
            ) from exc
