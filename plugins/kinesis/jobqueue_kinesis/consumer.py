"""Reading a stream as one member of a group, KCL-style, without the Java KCL.

The consumer holds leases on some shards (see `leases` and `balancer`) and reads only those,
with GetRecords from the lease's checkpoint on. A background thread renews the leases every
third of ``lease_ms``, so slow callers keep their shards; a consumer that dies stops renewing
and its shards move to the others once its leases expire. Acks advance a shard's checkpoint
over the contiguous acked prefix only (`tracking`). A shard whose lease is lost (stolen by a
busier group or expired) is dropped with its in-flight deliveries: their acks are ignored and
the new owner delivers them again from the checkpoint. A closed shard read to its end and
fully acked is checkpointed ``SHARD_END`` and released, which lets its children be read.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
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
# A lease is trusted locally for this share of lease_ms after a renewal was sent, so that the
# holder stops reading before another consumer may consider the lease expired.
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
    trusted_until: float
    position: str | None = None
    iterator: str | None = None
    tracker: AckTracker = field(default_factory=AckTracker)
    dirty: bool = False
    at_end: bool = False
    lost: bool = False
    next_read_at: float = 0.0

    def sequence_checkpoint(self) -> str | None:
        return None if self.checkpoint in (TRIM_HORIZON, SHARD_END) else self.checkpoint


class KinesisConsumer(Consumer):
    """Reads ``stream`` as a member of ``group``; shards are shared through ``leases``."""

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
        self._shards_seen: dict[str, Shard] = {}
        self._owned: dict[str, ShardState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._generation = 0
        self._turn = 0
        self._table_ready = False
        self._closed = False

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
        touched: dict[str, ShardState] = {}
        for delivery in deliveries:
            handle = delivery.handle
            if not isinstance(handle, Handle) or handle.owner != self.owner:
                continue
            state = self._owned.get(handle.shard_id)
            if state is None or state.generation != handle.generation or state.lost:
                continue  # the lease moved on; the new owner delivers this record again
            if state.tracker.ack(handle.sequence):
                touched[state.shard_id] = state
        for state in touched.values():
            self._advance(state)
        self._flush_checkpoints()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        for state in list(self._owned.values()):
            if state.lost:
                continue
            self._advance(state)
            final = SHARD_END if state.at_end and state.tracker.idle else state.checkpoint
            try:
                self._leases.release(state.shard_id, self.owner, final)
            except JobQueueError as exc:
                log.warning(
                    "could not release the lease on shard %s of stream %r; it frees itself "
                    "after %d ms: %s",
                    state.shard_id,
                    self._stream,
                    self._lease_ms,
                    exc,
                )
        with self._lock:
            self._owned.clear()

    # -- leases ----------------------------------------------------------------------------

    def _maintain(self) -> None:
        """Everything a poll does besides reading: set up, drop lost shards, finish, balance."""
        if not self._table_ready:
            self._leases.ensure()
            self._table_ready = True
        if self._renewer is None:
            self._renewer = threading.Thread(
                target=self._renew_loop, name=f"kinesis-lease-renewer-{self.owner}", daemon=True
            )
            self._renewer.start()
        self._drop_lost()
        self._finish_ended()
        self._flush_checkpoints(raise_errors=False)
        if time.monotonic() >= self._next_balance:
            self._balance()

    def _drop_lost(self) -> None:
        now = time.monotonic()
        with self._lock:
            gone = [s for s in self._owned.values() if s.lost or now > s.trusted_until]
            for state in gone:
                del self._owned[state.shard_id]
        for state in gone:
            log.info(
                "lease on shard %s of stream %r lost; %d un-acked deliveries will be redelivered",
                state.shard_id,
                self._stream,
                len(state.tracker),
            )
        if gone:
            self._next_balance = 0.0

    def _finish_ended(self) -> None:
        """Checkpoint SHARD_END on shards read to their end and fully acked, and let them go."""
        for state in list(self._owned.values()):
            if not (state.at_end and state.tracker.idle):
                continue
            released = self._leases.release(state.shard_id, self.owner, SHARD_END)
            with self._lock:
                self._owned.pop(state.shard_id, None)
            if released:
                log.info("shard %s of stream %r finished", state.shard_id, self._stream)
            self._next_balance = 0.0  # its children may be readable now

    def _balance(self) -> None:
        self._shards_seen = list_shards(
            self._clients.kinesis, self._clients.kinesis_address, self._stream
        )
        leases = self._leases.list()
        for shard_id in self._shards_seen.keys() - leases.keys():
            self._leases.create(shard_id)
            leases[shard_id] = Lease(shard_id, TRIM_HORIZON, None, 0, 0)
        with self._lock:
            for shard_id, state in self._owned.items():
                lease = leases.get(shard_id)
                if lease is None or lease.owner != self.owner:
                    state.lost = True
        for shard_id, lease in leases.items():
            if lease.finished and shard_id not in self._shards_seen:
                self._leases.delete(lease)
        self._drop_lost()
        decided = balancer.plan(self.owner, now_ms(), self._shards_seen, leases, self._owned)
        for lease in decided.free:
            self._take(lease)
        if decided.steal is not None and self._take(decided.steal):
            log.info(
                "took shard %s of stream %r from busier consumer %s",
                decided.steal.shard_id,
                self._stream,
                decided.steal.owner,
            )
        self._next_balance = time.monotonic() + self._balance_every_s

    def _take(self, lease: Lease) -> bool:
        sent = time.monotonic()
        taken = self._leases.take(lease, self.owner, self._lease_ms)
        if taken is None:
            return False
        self._generation += 1
        state = ShardState(
            shard_id=taken.shard_id,
            generation=self._generation,
            checkpoint=taken.checkpoint,
            trusted_until=sent + self._lease_s * TRUSTED_SHARE,
        )
        state.position = state.sequence_checkpoint()
        with self._lock:
            self._owned[state.shard_id] = state
        return True

    def _renew_loop(self) -> None:
        while not self._stop.wait(self._lease_s / 3):
            with self._lock:
                states = [s for s in self._owned.values() if not s.lost]
            for state in states:
                sent = time.monotonic()
                try:
                    renewed = self._leases.renew(state.shard_id, self.owner, self._lease_ms)
                except JobQueueError as exc:
                    log.warning("could not renew the lease on shard %s: %s", state.shard_id, exc)
                    continue
                with self._lock:
                    if renewed:
                        state.trusted_until = sent + self._lease_s * TRUSTED_SHARE
                    else:
                        state.lost = True

    # -- checkpoints -----------------------------------------------------------------------

    def _advance(self, state: ShardState) -> None:
        safe = state.tracker.advance()
        if safe is not None:
            state.checkpoint = safe
            state.dirty = True

    def _flush_checkpoints(self, *, raise_errors: bool = True) -> None:
        """Write every advanced checkpoint; errors leave them dirty for the next try."""
        failure: JobQueueError | None = None
        for state in list(self._owned.values()):
            if not state.dirty or state.lost:
                continue
            try:
                written = self._leases.checkpoint(state.shard_id, self.owner, state.checkpoint)
            except JobQueueError as exc:
                failure = failure or exc
                continue
            if written:
                state.dirty = False
            else:
                with self._lock:
                    state.lost = True
        if failure is not None and raise_errors:
            raise failure

    # -- reading ---------------------------------------------------------------------------

    def _read_round(self, max_records: int) -> list[Delivery]:
        """One GetRecords on each held shard that is due, until ``max_records`` are in hand."""
        deliveries: list[Delivery] = []
        states = list(self._owned.values())
        if not states:
            return deliveries
        self._turn = (self._turn + 1) % len(states)
        now = time.monotonic()
        for state in states[self._turn :] + states[: self._turn]:
            if state.lost or state.at_end or now < state.next_read_at or now > state.trusted_until:
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
            state.tracker.delivered(sequence)
            state.position = sequence
            handle = Handle(self.owner, state.shard_id, state.generation, sequence)
            into.append(Delivery(record["Data"], record_key(record["PartitionKey"]), handle))
        state.iterator = response.get("NextShardIterator")
        if state.iterator is None or (not records and self._past_end(state)):
            state.at_end = True
        if not records:
            state.next_read_at = time.monotonic() + self._idle_s

    def _past_end(self, state: ShardState) -> bool:
        """Emulators never end a closed shard's iterator; compare with its last sequence."""
        shard = self._shards_seen.get(state.shard_id)
        if shard is None or shard.ending_sequence is None:
            return False
        return int(shard.ending_sequence) <= int(state.position or 0)

    def _iterator(self, state: ShardState) -> str | None:
        params: dict[str, Any] = {"StreamName": self._stream, "ShardId": state.shard_id}
        if state.position is not None:
            params |= {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": state.position,
            }
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
        return str(iterator) if iterator is not None else None

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
