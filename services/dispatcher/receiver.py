"""A receiver: one broker consumer, a reader thread that polls it, and a small buffer.

The reader thread keeps the buffer topped up to ``capacity`` so HTTP long polls only await
the buffer: a waiting poll costs no thread and the event loop never blocks on the broker.
The buffer is touched only on the event loop; the thread hands deliveries over with
``call_soon_threadsafe``. Calls on the consumer are serialized by ``_lock`` as the broker
contract requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from jobqueue.contract import Consumer, Delivery
from jobqueue.errors import BrokerUnavailable

log = logging.getLogger(__name__)

POLL_TIMEOUT_S = 0.05
# An ack waits for the poll in progress (calls on one consumer are serialized), so the poll
# after an ack is short: a worker acking batch after batch does not wait out a long poll of a
# topic with nothing claimable until its next ack. Empty polls double it to POLL_TIMEOUT_S.
AFTER_ACK_POLL_TIMEOUT_S = 0.005
ERROR_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0)
# A buffered delivery is trusted to be still leased to this consumer until this long before
# its lease runs out (clocks, and the time a renewal takes to reach the broker).
LEASE_SAFETY_S = 1.0


class Receiver:
    """Reads one topic for one job.

    ``parse`` decodes a delivery as it arrives into ``(due_at, item)``: when it may be handed
    out (retry queues wait out their backoff) and what the worklet hands out. A delivery it
    cannot decode (it raises) goes to ``on_undecodable`` at once, not when a worker polls.
    """

    def __init__(
        self,
        name: str,
        consumer_factory: Callable[[], Consumer],
        loop: asyncio.AbstractEventLoop,
        *,
        capacity: int = 256,
        parse: Callable[[Delivery], tuple[float, Any]],
        on_undecodable: Callable[[list[Delivery]], None],
        job: str = "",
        lease_s: float = 30.0,
        renew_after_s: float | None = None,
    ) -> None:
        self.name = name
        self.lease_s = lease_s  # the broker lease of each delivery
        self._renew_after_s = renew_after_s
        self._expire_after_s = (
            None
            if renew_after_s is None
            else lease_s - min(LEASE_SAFETY_S, (lease_s - renew_after_s) / 2)
        )
        self.job = job
        self._factory = consumer_factory
        self._loop = loop
        self._capacity = capacity
        self._parse = parse
        self._on_undecodable = on_undecodable
        # (due at, read at (monotonic), delivery, item), in the order read
        self._buffer: deque[tuple[float, float, Delivery, Any]] = deque()
        self._arrived = asyncio.Event()
        self._lock = threading.Lock()
        self._room = threading.Condition()
        self._held = 0  # deliveries the thread has passed on and not yet taken
        self._acks_waiting = 0  # acks queued for ``_lock``: the reader thread lets them go first
        self._consumer: Consumer | None = None
        self._stopping = threading.Event()
        self._paused = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll_timeout_s = AFTER_ACK_POLL_TIMEOUT_S
        self.error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Create the consumer (blocking; call from a thread) and start reading."""
        self._consumer = self._factory()
        self._thread = threading.Thread(
            target=self._run, name=f"receiver-{self.job}-{self.name}", daemon=True
        )
        self._thread.start()

    def pause(self) -> None:
        """Stop polling the broker; what is buffered stays until ``close``."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()
        with self._room:
            self._room.notify_all()

    def close(self) -> None:
        """Stop the thread and close the consumer: un-acked deliveries go back to the broker."""
        self._stopping.set()
        with self._room:
            self._room.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            if self._consumer is not None:
                try:
                    self._consumer.close()
                except Exception as exc:  # closing must not fail a shutdown
                    log.warning(
                        "closing consumer failed",
                        extra={"job": self.job, "receiver": self.name, "error": str(exc)},
                    )
                self._consumer = None

    # -- reader thread ---------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            with self._room:
                while (
                    self._held >= self._capacity or self._paused.is_set() or self._acks_waiting
                ) and not self._stopping.is_set():
                    self._room.wait(timeout=0.5)
                room = self._capacity - self._held
            if self._stopping.is_set():
                return
            try:
                with self._lock:
                    assert self._consumer is not None
                    deliveries = self._consumer.poll(min(room, 500), self._poll_timeout_s)
            except Exception as exc:
                delay = ERROR_BACKOFF_S[min(failures, len(ERROR_BACKOFF_S) - 1)]
                failures += 1
                self.error = str(exc)
                log.warning(
                    "poll failed",
                    extra={"job": self.job, "receiver": self.name, "error": str(exc)},
                )
                self._stopping.wait(delay)
                continue
            failures = 0
            self.error = None
            if not deliveries:
                self._poll_timeout_s = min(self._poll_timeout_s * 2, POLL_TIMEOUT_S)
                continue
            with self._room:
                self._held += len(deliveries)
            try:
                self._loop.call_soon_threadsafe(self._arrive, deliveries)
            except RuntimeError:  # loop closed during shutdown
                return

    # -- event-loop side -------------------------------------------------------------------

    def _arrive(self, deliveries: list[Delivery]) -> None:
        undecodable: list[Delivery] = []
        read_at = time.monotonic()
        for delivery in deliveries:
            try:
                due, item = self._parse(delivery)
            except (msgspec.DecodeError, msgspec.ValidationError):
                undecodable.append(delivery)
                continue
            self._buffer.append((due, read_at, delivery, item))
        if undecodable:
            self._release_room(len(undecodable))
            self._on_undecodable(undecodable)
        if self._buffer:
            self._arrived.set()

    def take(self, limit: int, now: float) -> tuple[list[tuple[Delivery, Any]], list[Delivery]]:
        """Up to ``limit`` buffered (delivery, item) pairs that are due, in order; and which
        of those deliveries need their broker lease renewed before they are handed out.

        With per-record leases (``renew_after_s`` set), a delivery buffered for longer than
        ``renew_after_s`` has less than a worker's processing time left of its lease: it is
        returned for renewal. One buffered for longer than ``expire_after_s`` may already be
        with another consumer: it is dropped, and the broker delivers it again.
        """
        taken: list[tuple[Delivery, Any]] = []
        renew: list[Delivery] = []
        dropped = 0
        age_now = time.monotonic()
        while self._buffer and len(taken) < limit:
            due, read_at, delivery, item = self._buffer[0]
            age = age_now - read_at
            if self._expire_after_s is not None and age > self._expire_after_s:
                self._buffer.popleft()
                dropped += 1
                continue
            if due > now:
                break
            self._buffer.popleft()
            taken.append((delivery, item))
            if self._renew_after_s is not None and age > self._renew_after_s:
                renew.append(delivery)
        if dropped:
            log.info(
                "dropped deliveries whose lease ran out while buffered; the broker delivers "
                "them again",
                extra={"job": self.job, "receiver": self.name, "count": dropped},
            )
        if taken or dropped:
            self._release_room(len(taken) + dropped)
        if not self._buffer:
            self._arrived.clear()
        return taken, renew

    def _release_room(self, count: int) -> None:
        with self._room:
            self._held -= count
            self._room.notify()

    def next_due(self) -> float | None:
        return self._buffer[0][0] if self._buffer else None

    async def wait(self, limit_s: float) -> None:
        """Wait until something arrives or ``limit_s`` passes."""
        if limit_s <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), limit_s)

    def buffered(self) -> int:
        return len(self._buffer)

    def ack_blocking(self, deliveries: Sequence[Delivery]) -> None:
        """Ack on the broker (blocking; call from a thread)."""
        self._settle_blocking(lambda consumer: consumer.ack(deliveries))

    def extend_blocking(self, deliveries: Sequence[Delivery]) -> None:
        """Restart the broker's lease of these deliveries (blocking; call from a thread)."""
        self._settle_blocking(lambda consumer: consumer.extend(deliveries))

    def _settle_blocking(self, call: Callable[[Consumer], None]) -> None:
        """Run ``call`` on the consumer. The reader thread does not start another poll while
        it waits, so it waits at most for one poll in progress."""
        with self._room:
            self._acks_waiting += 1
        try:
            with self._lock:
                if self._consumer is None:
                    raise BrokerUnavailable(self.job, self.name, "receiver is closed")
                call(self._consumer)
        finally:
            with self._room:
                self._acks_waiting -= 1
                self._poll_timeout_s = AFTER_ACK_POLL_TIMEOUT_S
                self._room.notify_all()
