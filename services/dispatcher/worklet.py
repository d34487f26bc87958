"""A worklet serves one version of one job: publish for every job, and for consumer jobs the
receivers (main, retry_0..n-1, DLQ), the in-flight table and the message lifecycle.

Everything here is broker-agnostic: it speaks only the broker contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from jobqueue.contract import Broker, Delivery, Record
from jobqueue.dispatcher.ids import IdGenerator
from jobqueue.dispatcher.inflight import InFlight, InFlightTable
from jobqueue.dispatcher.metrics import DispatcherMetrics
from jobqueue.dispatcher.producers import ProducerPool
from jobqueue.dispatcher.receiver import Receiver
from jobqueue.dispatcher.records import (
    DLQRecord,
    RetryRecord,
    ack_topic,
    dlq_topic,
    retry_topic,
)
from jobqueue.errors import (
    BackPressure,
    InvalidInput,
    JobQueueError,
    JobStopped,
    PublishFailed,
    ServiceUnavailable,
)
from jobqueue.models import AckMessage, DLQMessage, IdsReply, Job, JobState, Message
from jobqueue.retry_policy import DLQ, RetryPolicy

log = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode
_decode_message = msgspec.json.Decoder(Message).decode
_decode_retry = msgspec.json.Decoder(RetryRecord).decode
_decode_dlq = msgspec.json.Decoder(DLQRecord).decode

MAIN = "main"
DLQ_QUEUE = "dlq"
SETTLE_RETRY_S = 1.0


def _parse_dlq(delivery: Delivery) -> tuple[float, DLQRecord]:
    """A DLQ record; anything else found in a DLQ topic is shown as undecodable, never dropped."""
    try:
        return 0.0, _decode_dlq(delivery.payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return 0.0, DLQRecord(raw_job=delivery.payload, reason="unable_to_decode")


@dataclass(frozen=True)
class WorkletSettings:
    max_in_flight: int = 1000
    prefetch: int = 256
    lease_margin_ms: int = 30_000


def _now_ms() -> int:
    return int(time.time() * 1000)


class Worklet:
    """One job version on one broker."""

    def __init__(
        self,
        job: Job,
        broker: Broker,
        ids: IdGenerator,
        metrics: DispatcherMetrics,
        settings: WorkletSettings,
    ) -> None:
        self.job = job
        self.name = job.name
        self.broker = broker
        self.ids = ids
        self.metrics = metrics
        self.settings = settings
        self.main_topic = broker.config.main_topic()
        self.producers = ProducerPool(broker)
        self.inflight = InFlightTable()
        self.receivers: dict[str, Receiver] = {}
        self.retry_policy = RetryPolicy(
            tuple(job.retry_config.backoffs) if job.retry_config else (), job.error_policy
        )
        self.accepting = True
        self._consuming = False
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._renewing: dict[int, InFlight] = {}  # extended entries whose lease is kept up
        self._timer: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def is_consumer(self) -> bool:
        return self.job.type == "consumer"

    def topics(self) -> list[str]:
        topics = [self.main_topic]
        if self.is_consumer:
            backoffs = self.retry_policy.backoffs
            topics += [retry_topic(self.name, i) for i in range(len(backoffs))]
            topics.append(dlq_topic(self.name))
            if self.job.emit_acks:
                topics.append(ack_topic(self.name))
        return topics

    async def start(self, *, consume: bool = True) -> None:
        """Create the job's topics and its receivers; with ``consume`` they start reading.

        A new version of a job starts with ``consume=False`` while an older version is
        open: both would read the same topics as one consumer group, and the new one could
        be handed what a worker of the old one holds. `consume` follows once the old version
        has closed.
        """
        await asyncio.to_thread(self.broker.ensure_topics, self.topics())
        if not self.is_consumer:
            return
        loop = asyncio.get_running_loop()
        base_lease = self.job.max_processing_time + self.settings.lease_margin_ms
        specs: list[tuple[str, str, int]] = [(MAIN, self.main_topic, base_lease)]
        for i, backoff in enumerate(self.retry_policy.backoffs):
            specs.append((f"retry_{i}", retry_topic(self.name, i), base_lease + backoff))
        specs.append((DLQ_QUEUE, dlq_topic(self.name), base_lease))
        # A delivery handed out must have max_processing_time left of its broker lease: where
        # leases are per record, one that waited longer in a receiver's buffer is renewed
        # first (see `Receiver.take`).
        record_leases = self.broker.capabilities.record_leases
        for queue, topic, lease in specs:
            renew_after_ms = lease - self.job.max_processing_time
            receiver = Receiver(
                queue,
                self._consumer_factory(topic, lease),
                loop,
                capacity=self.settings.prefetch,
                parse=self._parser(queue),
                on_undecodable=self._undecodable_handler(queue),
                job=self.name,
                lease_s=lease / 1000,
                renew_after_s=renew_after_ms / 1000 if record_leases else None,
            )
            self.receivers[queue] = receiver
        if consume:
            await self.consume()

    async def consume(self) -> None:
        """Open the receivers' consumers and start reading (once; not after `close`)."""
        if self._consuming or self._closed or not self.is_consumer:
            return
        self._consuming = True
        try:
            await asyncio.gather(*(asyncio.to_thread(r.open) for r in self.receivers.values()))
        except BaseException:
            await self.close()
            raise
        if self.job.state != "active":
            self.set_state(self.job.state)
        self._timer = asyncio.create_task(self._expire_loop())

    def _consumer_factory(self, topic: str, lease_ms: int):  # type: ignore[no-untyped-def]
        return lambda: self.broker.consumer(topic, self.name, lease_ms=lease_ms)

    def _parser(self, queue: str) -> Callable[[Delivery], tuple[float, Any]]:
        """How the receiver of ``queue`` decodes a delivery: (when it is due, what it holds)."""
        if queue == MAIN:
            return lambda d: (0.0, _decode_message(d.payload))
        if queue == DLQ_QUEUE:
            return _parse_dlq
        backoff_s = self.retry_policy.backoff_ms(int(queue.split("_")[1])) / 1000

        def parse_retry(delivery: Delivery) -> tuple[float, Any]:
            record = _decode_retry(delivery.payload)
            return record.enqueued_at_ms / 1000 + backoff_s, record.message

        return parse_retry

    def _undecodable_handler(self, queue: str) -> Callable[[list[Delivery]], None]:
        def handle(deliveries: list[Delivery]) -> None:
            self._spawn(self._dead_letter_undecodable(self.receivers[queue], deliveries))

        return handle

    def set_state(self, state: JobState) -> None:
        """Follow the job's state: receivers stop reading while it is not active."""
        self.job = msgspec.structs.replace(self.job, state=state)
        for receiver in self.receivers.values():
            if state == "active" and self.accepting:
                receiver.resume()
            else:
                receiver.pause()

    async def drain(self, timeout_s: float) -> None:
        """Stop handing out and wait (up to ``timeout_s``) for workers to settle what they hold."""
        self.accepting = False
        for receiver in self.receivers.values():
            receiver.pause()
        if len(self.inflight):
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout_s)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def consuming(self) -> bool:
        """Whether its receivers read from the broker (see `start`)."""
        return self._consuming and not self._closed

    async def close(self) -> None:
        """Close receivers and producers (once); whatever is un-acked comes back from the
        broker."""
        if self._closed:
            return
        self.accepting = False
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(
            *(asyncio.to_thread(r.close) for r in self.receivers.values()), return_exceptions=True
        )
        self.receivers.clear()
        await asyncio.to_thread(self.producers.close)
        await asyncio.to_thread(self.broker.close)
        self.metrics.in_flight.labels(self.name).set(0)

    # -- publish ---------------------------------------------------------------------------

    async def publish(self, msgs: Sequence[Message]) -> list[int]:
        """Assign ids, write every message to the job's topic, return the ids. Raises
        `PublishFailed` naming the ids that were not accepted."""
        fresh = self.ids.next_ids(sum(1 for m in msgs if m.id == 0))
        fresh_iter = iter(fresh)
        records: list[Record] = []
        ids: list[int] = []
        for msg in msgs:
            if msg.id == 0:
                msg.id = next(fresh_iter)
            msg.attempt = 0
            ids.append(msg.id)
            key = msg.external_id.encode() if msg.external_id else None
            records.append(Record(_encode(msg), key))
        try:
            await asyncio.to_thread(self.producers.publish_blocking, self.main_topic, records)
        except PublishFailed as exc:
            failed_ids = [ids[i] for i in exc.failed]
            raise _with_ids(exc, failed_ids) from exc
        self.metrics.published.labels(self.name).inc(len(records))
        return ids

    # -- polling ---------------------------------------------------------------------------

    def _check_can_poll(self) -> None:
        if not self.is_consumer:
            raise InvalidInput("name", f"job {self.name!r} is a producer job: it has no messages")
        if self.job.state != "active":
            raise JobStopped(self.name)
        if not self.accepting:
            raise ServiceUnavailable(f"job {self.name!r} is draining on this dispatcher")
        if len(self.inflight) >= self.settings.max_in_flight:
            raise BackPressure(self.name, len(self.inflight), self.settings.max_in_flight)

    def receiver(self, queue: str) -> Receiver:
        receiver = self.receivers.get(queue)
        if receiver is None:
            count = len(self.retry_policy.backoffs)
            raise InvalidInput(
                "retry_queue", f"job {self.name!r} has {count} retry queue(s): 0..{count - 1}"
            )
        return receiver

    async def _take(
        self, receiver: Receiver, max_messages: int, max_wait_ms: int
    ) -> list[tuple[Delivery, Any]]:
        deadline = time.monotonic() + max_wait_ms / 1000
        while True:
            self._check_can_poll()
            room = self.settings.max_in_flight - len(self.inflight)
            taken, renew = receiver.take(min(max_messages, room), time.time())
            if renew:
                taken = await self._renew_buffered(receiver, taken, renew)
            remaining = deadline - time.monotonic()
            if taken or remaining <= 0:
                return taken
            due = receiver.next_due()
            if due is not None:
                await asyncio.sleep(max(0.001, min(remaining, due - time.time())))
            else:
                await receiver.wait(remaining)

    async def _renew_buffered(
        self,
        receiver: Receiver,
        taken: list[tuple[Delivery, Any]],
        renew: list[Delivery],
    ) -> list[tuple[Delivery, Any]]:
        """Renew the lease of deliveries that waited long in the buffer before they are handed
        out; if that fails, they are not handed out (the broker delivers them again)."""
        try:
            await asyncio.to_thread(receiver.extend_blocking, renew)
        except Exception as exc:
            log.warning(
                "could not renew the lease of buffered deliveries; they come back later",
                extra={"job": self.name, "count": len(renew), "error": _describe(exc)},
            )
            stale = {id(delivery) for delivery in renew}
            return [pair for pair in taken if id(pair[0]) not in stale]
        return taken

    async def poll(self, queue: str, max_messages: int, max_wait_ms: int) -> list[Message]:
        started = time.perf_counter()
        self._check_can_poll()
        receiver = self.receiver(queue)
        items = await self._take(receiver, max_messages, max_wait_ms)
        out = self._hand_out(receiver, items)
        self.metrics.poll_latency.labels(self.name, queue).observe(time.perf_counter() - started)
        return out

    def _hand_out(self, receiver: Receiver, items: list[tuple[Delivery, Any]]) -> list[Message]:
        deadline = time.monotonic() + self.job.max_processing_time / 1000
        out: list[Message] = []
        for delivery, message in items:
            held = self.inflight.get(message.id) if message.id else None
            same_record = (
                held is not None
                and held.receiver is receiver
                and held.delivery.payload == delivery.payload
            )
            if held is not None and same_record:
                held.redelivered.append(delivery)  # the broker's lease ran out: same record
                continue
            # An entry still settling under this id is this message's previous delivery
            # (e.g. its retry copy came back before the original's ack finished): keep the id.
            if message.id == 0 or held is not None:
                message.id = self.ids.next_ids(1)[0]
            message.attempt += 1
            self.inflight.add(InFlight(message.id, delivery, receiver, message, deadline))
            out.append(message)
        if out:
            self.metrics.delivered.labels(self.name, receiver.name).inc(len(out))
            self._changed()
        return out

    async def poll_dlq(self, max_messages: int, max_wait_ms: int) -> list[DLQMessage]:
        self._check_can_poll()
        receiver = self.receiver(DLQ_QUEUE)
        items = await self._take(receiver, max_messages, max_wait_ms)
        deadline = time.monotonic() + self.job.max_processing_time / 1000
        out: list[DLQMessage] = []
        for delivery, record in items:
            msg_id = self.ids.next_ids(1)[0]
            self.inflight.add(InFlight(msg_id, delivery, receiver, None, deadline))
            out.append(DLQMessage(raw_job=record.raw_job, reason=record.reason, id=msg_id))
        self._changed()
        return out

    # -- settling --------------------------------------------------------------------------

    def _claim(self, msg_ids: Iterable[int]) -> tuple[list[InFlight], list[int]]:
        held: list[InFlight] = []
        bad: list[int] = []
        for msg_id in dict.fromkeys(msg_ids):
            entry = self.inflight.claim(msg_id)
            if entry is None:
                bad.append(msg_id)
            else:
                held.append(entry)
        return held, bad

    def owns(self, msg_id: int) -> bool:
        return self.inflight.get(msg_id) is not None

    async def ack(self, msg_ids: Sequence[int]) -> IdsReply:
        held, bad = self._claim(msg_ids)
        failed, error = await self._ack_entries(held)
        self.metrics.acked.labels(self.name).inc(len(held) - len(failed))
        return IdsReply(failed_ids=failed, bad_ids=bad, error=error)

    async def _ack_entries(self, held: list[InFlight]) -> tuple[list[int], str]:
        if not held:
            return [], ""
        try:
            if self.job.emit_acks:
                records = [
                    Record(
                        _encode(
                            AckMessage(
                                id=e.message.id,
                                external_id=e.message.external_id,
                                name=e.message.name,
                                attempt=e.message.attempt,
                            )
                        )
                    )
                    for e in held
                    if e.message is not None
                ]
                await asyncio.to_thread(
                    self.producers.publish_blocking, ack_topic(self.name), records
                )
            await self._broker_ack(held)
        except Exception as exc:
            for entry in held:
                self.inflight.release(entry)
            return [e.id for e in held], _describe(exc)
        for entry in held:
            self.inflight.remove(entry)
        self._changed()
        return [], ""

    async def _broker_ack(self, entries: Sequence[InFlight]) -> None:
        by_receiver: dict[Receiver, list[Delivery]] = defaultdict(list)
        for entry in entries:
            by_receiver[entry.receiver].extend(entry.deliveries())
        await asyncio.gather(
            *(asyncio.to_thread(r.ack_blocking, ds) for r, ds in by_receiver.items())
        )

    async def nack(self, msg_ids: Sequence[int], reason: str = "max_retry") -> IdsReply:
        held, bad = self._claim(msg_ids)
        failed, error = await self._fail_entries(held, reason)
        self.metrics.nacked.labels(self.name).inc(len(held) - len(failed))
        return IdsReply(failed_ids=failed, bad_ids=bad, error=error)

    async def _fail_entries(self, held: list[InFlight], reason: str) -> tuple[list[int], str]:
        """Send each entry to its next retry queue or the DLQ, then ack the original."""
        if not held:
            return [], ""
        now_ms = _now_ms()
        by_topic: dict[str, list[tuple[InFlight, Record]]] = defaultdict(list)
        for entry in held:
            message = entry.message
            if message is None:  # a DLQ delivery that was not acked goes back to the DLQ
                by_topic[dlq_topic(self.name)].append((entry, Record(entry.delivery.payload)))
                continue
            queue = self.retry_policy.next_queue(message.attempt, message.error_policy)
            if queue == DLQ:
                record = DLQRecord(raw_job=_encode(message), reason=reason, dead_at_ms=now_ms)
                by_topic[dlq_topic(self.name)].append((entry, Record(_encode(record))))
            else:
                retry = RetryRecord(enqueued_at_ms=now_ms, message=message)
                by_topic[retry_topic(self.name, queue)].append((entry, Record(_encode(retry))))
        failed: list[int] = []
        errors: list[str] = []

        async def write(topic: str, pairs: list[tuple[InFlight, Record]]) -> None:
            try:
                await asyncio.to_thread(
                    self.producers.publish_blocking, topic, [r for _, r in pairs]
                )
            except Exception as exc:
                errors.append(_describe(exc))
                for entry, _ in pairs:
                    failed.append(entry.id)
                    self.inflight.release(entry, time.monotonic() + SETTLE_RETRY_S)
                return
            self._count_moved(topic, [e for e, _ in pairs], reason)

        await asyncio.gather(*(write(t, p) for t, p in by_topic.items()))
        written = [e for e in held if e.id not in set(failed)]
        try:
            await self._broker_ack(written)
        except Exception as exc:
            # The copy is written; the original comes back from the broker later (a duplicate,
            # never a loss). Reporting it as failed would write a second copy on retry.
            log.warning(
                "ack after retry/DLQ write failed", extra={"job": self.name, "error": str(exc)}
            )
        for entry in written:
            self.inflight.remove(entry)
        self._changed()
        return failed, "; ".join(errors)

    def _count_moved(self, topic: str, entries: list[InFlight], reason: str) -> None:
        if topic == dlq_topic(self.name):
            fresh = sum(1 for e in entries if e.message is not None)
            if fresh:
                self.metrics.dead_lettered.labels(self.name, reason).inc(fresh)
        else:
            self.metrics.retried.labels(self.name, topic).inc(len(entries))

    async def extend(self, msg_ids: Sequence[int], extend_ms: int) -> IdsReply:
        deadline = time.monotonic() + extend_ms / 1000
        bad: list[int] = []
        extended: list[InFlight] = []
        for msg_id in dict.fromkeys(msg_ids):
            entry = self.inflight.extend(msg_id, deadline)
            if entry is None:
                bad.append(msg_id)
            else:
                extended.append(entry)
        if self.broker.capabilities.record_leases:
            await self._renew_leases(extended)
        return IdsReply(failed_ids=[], bad_ids=bad)

    async def _renew_leases(self, entries: Sequence[InFlight]) -> None:
        """Restart the broker lease of held entries, so that no other consumer of the group
        (another dispatcher) gets them while a worker still works on them. Entries whose
        deadline outlasts the renewed lease are renewed again by the expiry loop."""
        by_receiver: dict[Receiver, list[InFlight]] = defaultdict(list)
        for entry in entries:
            by_receiver[entry.receiver].append(entry)
            self._renewing[entry.id] = entry

        async def renew(receiver: Receiver, group: list[InFlight]) -> None:
            renewed_at = time.monotonic()
            deliveries = [d for entry in group for d in entry.deliveries()]
            try:
                await asyncio.to_thread(receiver.extend_blocking, deliveries)
            except Exception as exc:  # retried on the next tick of the expiry loop
                log.warning(
                    "could not renew broker leases",
                    extra={"job": self.name, "count": len(group), "error": _describe(exc)},
                )
                return
            for entry in group:
                entry.lease_until = renewed_at + receiver.lease_s

        await asyncio.gather(*(renew(r, group) for r, group in by_receiver.items()))

    def _leases_due(self, now: float) -> list[InFlight]:
        """Extended entries whose broker lease runs out within half a lease while their
        deadline lies beyond it; entries no longer held or covered by their lease are dropped."""
        due: list[InFlight] = []
        for msg_id, entry in list(self._renewing.items()):
            if not self.inflight.holds(entry) or entry.deadline <= entry.lease_until:
                del self._renewing[msg_id]
            elif entry.lease_until - now < entry.receiver.lease_s / 2:
                due.append(entry)
        return due

    async def _dead_letter_undecodable(
        self, receiver: Receiver, deliveries: list[Delivery]
    ) -> None:
        now_ms = _now_ms()
        records = [
            Record(
                _encode(DLQRecord(raw_job=d.payload, reason="unable_to_decode", dead_at_ms=now_ms))
            )
            for d in deliveries
        ]
        try:
            await asyncio.to_thread(self.producers.publish_blocking, dlq_topic(self.name), records)
            await asyncio.to_thread(receiver.ack_blocking, deliveries)
        except Exception as exc:
            log.error(
                "could not dead-letter undecodable messages; they will be redelivered",
                extra={"job": self.name, "count": len(deliveries), "error": str(exc)},
            )
            return
        self.metrics.dead_lettered.labels(self.name, "unable_to_decode").inc(len(deliveries))

    # -- redrive ---------------------------------------------------------------------------

    async def redrive(self, max_messages: int, target: str) -> int:
        """Move up to ``max_messages`` from the DLQ to the main topic or a retry queue."""
        if not self.is_consumer:
            raise InvalidInput("name", f"job {self.name!r} is a producer job: it has no DLQ")
        if target != MAIN:
            self.receiver(target)  # validates the index
        receiver = self.receiver(DLQ_QUEUE)
        moved = 0
        while moved < max_messages:
            items = await self._take(receiver, max_messages - moved, 500)
            if not items:
                break
            moved += await self._redrive_batch(receiver, items, target)
        return moved

    async def _redrive_batch(
        self, receiver: Receiver, items: list[tuple[Delivery, DLQRecord]], target: str
    ) -> int:
        now_ms = _now_ms()
        records: list[Record] = []
        keep: list[Record] = []
        deliveries = [delivery for delivery, _ in items]
        for delivery, record in items:
            try:
                message = _decode_message(record.raw_job)
            except (msgspec.DecodeError, msgspec.ValidationError):
                keep.append(Record(delivery.payload))  # cannot be redriven: stays in the DLQ
                continue
            message.attempt = 0
            if target == MAIN:
                records.append(Record(_encode(message)))
            else:
                records.append(Record(_encode(RetryRecord(enqueued_at_ms=now_ms, message=message))))
        topic = self.main_topic if target == MAIN else retry_topic(self.name, int(target[6:]))
        try:
            await asyncio.to_thread(self.producers.publish_blocking, topic, records)
            await asyncio.to_thread(self.producers.publish_blocking, dlq_topic(self.name), keep)
        except Exception:
            # Hold them as expired DLQ deliveries: the expiry loop puts them back in the DLQ
            # once the broker answers again. Copies already written may repeat, never vanish.
            now = time.monotonic()
            for delivery in deliveries:
                entry = InFlight(self.ids.next_ids(1)[0], delivery, receiver, None, now)
                self.inflight.add(entry)
            raise
        await asyncio.to_thread(receiver.ack_blocking, deliveries)
        return len(records)

    # -- expiry ----------------------------------------------------------------------------

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            if self._renewing and (due := self._leases_due(now)):
                await self._renew_leases(due)
            expired = self.inflight.claim_expired(now)
            if not expired:
                continue
            self.metrics.timed_out.labels(self.name).inc(len(expired))
            try:
                await self._fail_entries(expired, "timeout")
            except Exception as exc:  # never let the timer die
                log.error("expiry failed", extra={"job": self.name, "error": str(exc)})

    def _changed(self) -> None:
        """After the in-flight table changed: update the gauge, wake a drain waiting for idle."""
        self.metrics.in_flight.labels(self.name).set(len(self.inflight))
        if not len(self.inflight):
            self._idle.set()

    def _spawn(self, coro) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _describe(exc: BaseException) -> str:
    return exc.message if isinstance(exc, JobQueueError) else f"{type(exc).__name__}: {exc}"


def _with_ids(exc: PublishFailed, failed_ids: list[int]) -> PublishFailed:
    error = PublishFailed(exc.broker, exc.address, exc.failed, exc.reason)
    error.failed_ids = failed_ids  # type: ignore[attr-defined]
    error.message = f"{error.message}; not accepted: ids {failed_ids}"
    return error
