"""Keeping the leases of running handlers alive, so a long handler is not timed out.

The dispatcher treats a message as nacked (reason ``timeout``) once the job's
``max_processing_time_ms`` passes. Every ``interval_s`` this extends every message whose
handler is still running to ``extend_ms`` from now, in one request. The worker cannot learn
``max_processing_time_ms`` (it only talks to the dispatcher), so ``interval_s`` must be set
below it; the defaults (5 s, extended to 30 s) suit jobs of 10 s and more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from jobqueue.client._async_client import AsyncDispatcherClient
from jobqueue.client._outage import Outage
from jobqueue.client._settler import MAX_IDS_PER_CALL
from jobqueue.errors import JobQueueError, NotSubscribed

log = logging.getLogger("jobqueue.client")


class LeaseKeeper:
    def __init__(
        self,
        client: AsyncDispatcherClient,
        job: str,
        *,
        interval_s: float,
        extend_ms: int,
        held: Callable[[], list[int]],
        resubscribe: Callable[[], Awaitable[None]],
    ) -> None:
        self.client = client
        self.job = job
        self.interval_s = interval_s
        self.extend_ms = extend_ms
        self.held = held
        self.resubscribe = resubscribe
        self.lost: set[int] = set()
        self._outage = Outage(log, "extending leases", job)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.extend_once()

    async def extend_once(self) -> None:
        held = set(self.held())
        self.lost &= held
        ids = sorted(held - self.lost)
        for start in range(0, len(ids), MAX_IDS_PER_CALL):
            chunk = ids[start : start + MAX_IDS_PER_CALL]
            try:
                reply = await self.client.extend(self.job, chunk, self.extend_ms)
            except NotSubscribed:
                await self.resubscribe()
                return
            except JobQueueError as exc:
                self._outage.failed(exc)
                return
            self._outage.recovered()
            if reply.bad_ids:
                self.lost.update(reply.bad_ids)
                log.warning(
                    "lease of %d running message(s) already expired: the dispatcher retries them;"
                    " set the lease interval below the job's max_processing_time_ms",
                    len(reply.bad_ids),
                    extra={"job": self.job},
                )
