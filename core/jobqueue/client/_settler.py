"""Batching a worker's acks and nacks: one request per batch, retried until it lands.

Handlers finish one message at a time; sending each outcome alone would cost a request per
message. Outcomes wait here up to ``flush_s`` (or until ``batch_size`` are pending) and go
out as one ``ack`` and one ``nack`` call. Ids the dispatcher reports as ``failed_ids`` and
whole batches that hit a retryable error are sent again after a backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from jobqueue.client._async_client import AsyncDispatcherClient
from jobqueue.client._backoff import Backoff
from jobqueue.client._exceptions import is_retryable
from jobqueue.client._outage import Outage
from jobqueue.client._stats import WorkerStats
from jobqueue.errors import JobQueueError, NotSubscribed

log = logging.getLogger("jobqueue.client")

Outcome = Literal["ack", "nack"]
MAX_IDS_PER_CALL = 1000


class Settler:
    def __init__(
        self,
        client: AsyncDispatcherClient,
        job: str,
        stats: WorkerStats,
        *,
        batch_size: int,
        flush_s: float,
        resubscribe: Callable[[], Awaitable[None]],
        backoff: Backoff,
    ) -> None:
        self.client = client
        self.job = job
        self.stats = stats
        self.batch_size = batch_size
        self.flush_s = flush_s
        self.resubscribe = resubscribe
        self.backoff = backoff
        self.pending: dict[Outcome, list[int]] = {"ack": [], "nack": []}
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._lock = asyncio.Lock()
        self._closing = False
        self._outage = Outage(log, "settling acks/nacks", job)

    def add(self, outcome: Outcome, msg_id: int) -> None:
        self.pending[outcome].append(msg_id)
        self._wake.set()
        if len(self) >= self.batch_size:
            self._full.set()

    def __len__(self) -> int:
        return len(self.pending["ack"]) + len(self.pending["nack"])

    def kick(self) -> None:
        """Flush now rather than after ``flush_s`` (e.g. the dispatcher reports back-pressure)."""
        self._full.set()

    async def run(self) -> None:
        """Flush in the background until `drain` is called."""
        while not self._closing:
            await self._wake.wait()
            if self._closing:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.flush_s)
            if not await self.flush() and not self._closing:
                await asyncio.sleep(self.backoff.next())

    async def flush(self) -> bool:
        """Send what is pending; False if something is left to retry."""
        async with self._lock:
            self._wake.clear()
            self._full.clear()
            ok = True
            for outcome in ("ack", "nack"):
                while self.pending[outcome] and ok:
                    ids = self.pending[outcome][:MAX_IDS_PER_CALL]
                    del self.pending[outcome][:MAX_IDS_PER_CALL]
                    ok = await self._send(outcome, ids)
            if len(self):
                self._wake.set()
            if ok:
                self.backoff.reset()
            return ok

    async def _send(self, outcome: Outcome, ids: list[int]) -> bool:
        call = self.client.ack if outcome == "ack" else self.client.nack
        try:
            reply = await call(self.job, ids)
        except NotSubscribed:
            # The dispatcher restarted or dropped the job: it holds none of these ids any more
            # and their messages come back after their lease.
            self.stats.unsettled += len(ids)
            log.warning(
                "dispatcher no longer serves the job; %d %s(s) dropped, their messages will be"
                " redelivered",
                len(ids),
                outcome,
                extra={"job": self.job},
            )
            await self.resubscribe()
            return True
        except JobQueueError as exc:
            if not is_retryable(exc):
                self.stats.unsettled += len(ids)
                log.error(
                    "%s of %d message(s) refused: %s",
                    outcome,
                    len(ids),
                    exc,
                    extra={"job": self.job, "error": str(exc)},
                )
                return True
            self.pending[outcome][:0] = ids
            self._outage.failed(exc)
            return False
        except BaseException:
            self.pending[outcome][:0] = ids
            raise
        self._outage.recovered()
        settled = len(ids) - len(reply.failed_ids) - len(reply.bad_ids)
        if outcome == "ack":
            self.stats.acked += settled
        else:
            self.stats.nacked += settled
        if reply.bad_ids:
            self.stats.stale += len(reply.bad_ids)
            log.warning(
                "%d %s(s) came too late: their lease had expired and the dispatcher retried them",
                len(reply.bad_ids),
                outcome,
                extra={"job": self.job},
            )
        if reply.failed_ids:
            self.pending[outcome][:0] = reply.failed_ids
            self._outage.failed(JobQueueError(reply.error or "broker failed"))
            return False
        return True

    async def drain(self, timeout_s: float) -> int:
        """Stop the background loop and flush until nothing is pending or ``timeout_s``
        passed; returns how many outcomes could not be sent (counted as unsettled)."""
        self._closing = True
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        while len(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                ok = await asyncio.wait_for(self.flush(), remaining)
            except TimeoutError:
                break
            if not ok:
                await asyncio.sleep(min(self.backoff.next(), max(0.0, remaining)))
        left = len(self)
        if left:
            self.stats.unsettled += left
            log.warning(
                "%d ack/nack(s) could not be sent before exit; those messages will be redelivered"
                " after their lease",
                left,
                extra={"job": self.job},
            )
        return left
