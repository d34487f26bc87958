"""`Worker`: runs a handler over a job's messages, with the lifecycle a worker needs.

It subscribes, polls the main and retry queues by the strategy of `jobqueue.client._plan`,
runs up to ``concurrency`` handlers at once (async handlers on the event loop, sync ones on
as many daemon threads), acks on return and nacks on exception (batched by `Settler`),
extends the leases of long handlers (`LeaseKeeper`), rides out dispatcher outages with
backoff, subscribes again when the dispatcher forgot the job (after a restart), and stops
gracefully on SIGTERM or SIGINT: no new polls, running handlers get ``shutdown_timeout_s`` to
finish, whatever still runs then is nacked, and the outcomes are flushed before it returns.
A sync handler still running then is abandoned on its daemon thread (it cannot be killed).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from jobqueue.client._async_client import AsyncDispatcherClient
from jobqueue.client._backoff import Backoff
from jobqueue.client._calls import DEFAULT_DISPATCHER_URL
from jobqueue.client._exceptions import Nack, is_retryable
from jobqueue.client._leases import LeaseKeeper
from jobqueue.client._outage import Outage
from jobqueue.client._plan import DLQ, MAIN, PollPlan, Source
from jobqueue.client._settler import Settler
from jobqueue.client._stats import WorkerStats
from jobqueue.client._threads import HandlerThreads
from jobqueue.errors import (
    BackPressure,
    InvalidInput,
    JobQueueError,
    JobStopped,
    NotSubscribed,
)
from jobqueue.models import DLQMessage, Message

log = logging.getLogger("jobqueue.client")

T = TypeVar("T")
Handler = Callable[[Message], Awaitable[Any] | Any]
"""Called with each message; returning acks it, raising nacks it (`Nack` to skip the log)."""
DLQHandler = Callable[[DLQMessage], Awaitable[Any] | Any]
"""Called with each dead letter; returning deletes it from the DLQ, raising puts it back."""

SETTLE_ON_EXIT_S = 10.0
BACK_PRESSURE_WAIT_S = 0.5
MAX_POLL = 1000


@dataclass
class _Held:
    msg_id: int
    task: asyncio.Task[None] | None = None
    abandoned: bool = False


class Worker:
    """Process the messages of consumer job ``job`` with ``handler``.

    Poll strategy: each round polls the due retry queues (and the DLQ, with a DLQ handler)
    without waiting, in a rotating order, then long-polls the main queue; a round whose
    retries filled every slot is followed by one that polls main first, so neither side
    starves. A due retry message waits at most ``poll_wait_ms`` for its turn. Messages are
    fetched only for free handler slots: the worker never holds more than ``concurrency``.

    Parameters:
        job: the consumer job's name.
        handler: a function or coroutine function taking a `Message`.
        dlq_handler: if given, dead letters are polled too and passed to it.
        concurrency: handlers running at once (and messages held at once).
        dispatcher_url, token: where the dispatcher is; ignored when ``client`` is given.
        client: an `AsyncDispatcherClient` to use (the caller closes it).
        poll_wait_ms: long-poll wait of the main queue; also the most a due retry message
            waits for its turn.
        retry_queues: how many retry queues the job has; discovered when None.
        lease_interval_s, lease_extension_ms: every ``lease_interval_s`` the leases of running
            handlers are extended to ``lease_extension_ms`` from now; keep the interval below
            the job's ``max_processing_time_ms``.
        ack_batch_size, ack_flush_s: acks and nacks go out in batches of up to
            ``ack_batch_size``, at most ``ack_flush_s`` after a handler finished.
        shutdown_timeout_s: on stop, how long running handlers may take before they are
            nacked (a second SIGTERM/SIGINT nacks them at once).
        max_backoff_s: the longest wait between retries while the dispatcher is unavailable.
    """

    def __init__(
        self,
        job: str,
        handler: Handler,
        *,
        dlq_handler: DLQHandler | None = None,
        concurrency: int = 1,
        dispatcher_url: str = DEFAULT_DISPATCHER_URL,
        token: str | None = None,
        client: AsyncDispatcherClient | None = None,
        poll_wait_ms: int = 2000,
        retry_queues: int | None = None,
        lease_interval_s: float = 5.0,
        lease_extension_ms: int = 30_000,
        ack_batch_size: int = 100,
        ack_flush_s: float = 0.05,
        shutdown_timeout_s: float = 30.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        _check("job", job, bool(job))
        _check("concurrency", concurrency, concurrency >= 1)
        _check("poll_wait_ms", poll_wait_ms, 0 <= poll_wait_ms <= 300_000)
        _check("retry_queues", retry_queues, retry_queues is None or retry_queues >= 0)
        _check("lease_interval_s", lease_interval_s, lease_interval_s > 0)
        _check(
            "lease_extension_ms",
            lease_extension_ms,
            lease_extension_ms > lease_interval_s * 1000,
            "it must exceed lease_interval_s",
        )
        _check("ack_batch_size", ack_batch_size, ack_batch_size >= 1)
        _check("ack_flush_s", ack_flush_s, ack_flush_s >= 0)
        _check("shutdown_timeout_s", shutdown_timeout_s, shutdown_timeout_s >= 0)
        _check("max_backoff_s", max_backoff_s, max_backoff_s >= 0.1)
        self.job = job
        self.handler = handler
        self.dlq_handler = dlq_handler
        self.concurrency = concurrency
        self.poll_wait_ms = poll_wait_ms
        self.lease_interval_s = lease_interval_s
        self.lease_extension_ms = lease_extension_ms
        self.ack_batch_size = ack_batch_size
        self.ack_flush_s = ack_flush_s
        self.shutdown_timeout_s = shutdown_timeout_s
        self.max_backoff_s = max_backoff_s
        self.stats = WorkerStats()
        self._own_client = client is None
        self._client = client or AsyncDispatcherClient(dispatcher_url, token=token)
        self._plan = PollPlan(retry_queues, with_dlq=dlq_handler is not None)
        self._held: dict[int, _Held] = {}
        self._keys = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False
        self._hurry_requested = False
        self._stop_at = 0.0
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._subscribe_lock = asyncio.Lock()
        self._threads: HandlerThreads | None = None
        self._settler: Settler | None = None
        self._poll_outage = Outage(log, "polling", job)

    # -- running ---------------------------------------------------------------------------

    def run(self) -> None:
        """Run until stopped (SIGTERM, SIGINT or `stop`); blocks. Raises the error that made
        it give up (unknown job, bad token...), after shutting down cleanly."""
        asyncio.run(self.serve())

    def stop(self) -> None:
        """Ask the worker to stop, from any thread; a second call skips the wait for running
        handlers."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._stop_requested = True
            return
        if _in_loop(loop):
            self._request_stop()
        else:
            loop.call_soon_threadsafe(self._request_stop)

    def _request_stop(self) -> None:
        if self._stopping.is_set():
            self._hurry_requested = True
            log.info("second stop request: nacking running handlers", extra={"job": self.job})
        else:
            self._stop_at = time.monotonic()
            self._stopping.set()
            log.info("stopping: finishing running handlers", extra={"job": self.job})
        self._changed.set()

    async def serve(self, *, handle_signals: bool = True) -> None:
        """Run until stopped, on the running event loop (`run` is the blocking form)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        if self._stop_requested:
            self._request_stop()
        self._threads = HandlerThreads(self.concurrency)
        backoff = Backoff(max_s=self.max_backoff_s)
        settler = Settler(
            self._client,
            self.job,
            self.stats,
            batch_size=self.ack_batch_size,
            flush_s=self.ack_flush_s,
            resubscribe=self._try_subscribe,
            backoff=Backoff(max_s=self.max_backoff_s),
        )
        self._settler = settler
        keeper = LeaseKeeper(
            self._client,
            self.job,
            interval_s=self.lease_interval_s,
            extend_ms=self.lease_extension_ms,
            held=lambda: [h.msg_id for h in self._held.values() if not h.abandoned],
            resubscribe=self._try_subscribe,
        )
        background = [loop.create_task(settler.run()), loop.create_task(keeper.run())]
        signals = self._install_signals(loop) if handle_signals else []
        try:
            await self._subscribe(backoff)
            await self._poll_loop(settler, backoff)
        finally:
            self._stopping.set()
            try:
                await self._finish_handlers(settler)
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
                await settler.drain(SETTLE_ON_EXIT_S)
            finally:
                for sig in signals:
                    loop.remove_signal_handler(sig)
                self._threads.shutdown()
                if self._own_client:
                    await self._client.aclose()
                log.info("worker stopped", extra={"job": self.job, **self.stats.as_dict()})

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[signal.Signals]:
        installed: list[signal.Signals] = []
        if threading.current_thread() is not threading.main_thread():
            return installed
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._request_stop)
            except (NotImplementedError, RuntimeError, ValueError):  # e.g. not supported here
                continue
            installed.append(sig)
        return installed

    # -- subscribing -----------------------------------------------------------------------

    async def _subscribe(self, backoff: Backoff) -> None:
        """Subscribe, retrying what is retryable until it works or the worker is stopped."""
        outage = Outage(log, "subscribing", self.job)
        while not self._stopping.is_set():
            try:
                async with self._subscribe_lock:
                    await self._client.subscribe(self.job)
            except JobQueueError as exc:
                if not is_retryable(exc):
                    raise
                outage.failed(exc)
                await self._sleep(backoff.next())
                continue
            outage.recovered()
            backoff.reset()
            return

    async def _try_subscribe(self) -> None:
        """One subscribe attempt for the background tasks; the poll loop retries if needed."""
        try:
            async with self._subscribe_lock:
                await self._client.subscribe(self.job)
        except JobQueueError as exc:
            log.debug("subscribe failed", extra={"job": self.job, "error": str(exc)})

    # -- polling ---------------------------------------------------------------------------

    async def _poll_loop(self, settler: Settler, backoff: Backoff) -> None:
        while True:
            free = await self._free_slots()
            if free == 0:
                return
            try:
                await self._round(free)
            except JobQueueError as exc:
                await self._poll_failed(exc, settler, backoff)
                continue
            self._poll_outage.recovered()
            backoff.reset()

    async def _free_slots(self) -> int:
        """Waits for a free handler slot; 0 once the worker is stopping."""
        while True:
            self._changed.clear()
            if self._stop_requested and not self._stopping.is_set():  # stop() raced serve()
                self._request_stop()
            if self._stopping.is_set():
                return 0
            free = self.concurrency - len(self._held)
            if free > 0:
                return free
            await self._changed.wait()

    async def _round(self, free: int) -> None:
        plan = self._plan
        sources = plan.round(time.monotonic())
        received = 0
        main_polled = False
        for position, source in enumerate(sources):
            room = min(free - received, MAX_POLL)
            if room <= 0 or self._stopping.is_set():
                break
            if not plan.wanted(source):
                continue
            last = position == len(sources) - 1
            wait_ms = self.poll_wait_ms if last and received == 0 else 0
            if source == MAIN:
                main_polled = True
            try:
                received += await self._poll(source, room, wait_ms)
            except InvalidInput as exc:
                if isinstance(source, int) and getattr(exc, "field", "") == "retry_queue":
                    plan.retry_queue_missing(source)
                    continue
                raise
            if isinstance(source, int):
                plan.retry_queue_exists(source)
        plan.end_round(main_polled)

    async def _poll(self, source: Source, room: int, wait_ms: int) -> int:
        client = self._client
        if source == DLQ:
            letters = await client.poll_dlq(self.job, max_wait_ms=wait_ms, max_messages=room)
            self.stats.dead_letters_received += len(letters)
            for letter in letters:
                self._start(letter.id, self._handle_dead_letter(letter))
            return len(letters)
        if source == MAIN:
            msgs = await client.poll(self.job, max_wait_ms=wait_ms, max_messages=room)
        else:
            msgs = await client.poll_retry(self.job, source, max_wait_ms=wait_ms, max_messages=room)
        self.stats.received += len(msgs)
        for msg in msgs:
            self._start(msg.id, self._handle_message(msg))
        return len(msgs)

    async def _poll_failed(self, exc: JobQueueError, settler: Settler, backoff: Backoff) -> None:
        if isinstance(exc, NotSubscribed):
            log.warning("dispatcher does not serve the job (restarted?): subscribing again",
                        extra={"job": self.job})  # fmt: skip
            await self._subscribe(backoff)
            return
        if not is_retryable(exc):
            raise exc
        if isinstance(exc, BackPressure):
            # Not an outage: the dispatcher's in-flight limit is below what this worker (and
            # others on the job) hold. Flush our settles and poll again once a handler ends.
            settler.kick()
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), BACK_PRESSURE_WAIT_S)
            await asyncio.sleep(self.ack_flush_s)
            return
        self._poll_outage.failed(
            exc, logging.INFO if isinstance(exc, JobStopped) else logging.WARNING
        )
        await self._sleep(backoff.next())

    async def _sleep(self, seconds: float) -> None:
        """Sleep, cut short when the worker is asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # -- handling --------------------------------------------------------------------------

    def _start(self, msg_id: int, work: Callable[[_Held], Awaitable[None]]) -> None:
        key = next(self._keys)
        held = _Held(msg_id)
        self._held[key] = held
        assert self._loop is not None

        async def run() -> None:
            try:
                await work(held)
            finally:
                del self._held[key]
                self._changed.set()

        held.task = self._loop.create_task(run())

    def _handle_message(self, msg: Message) -> Callable[[_Held], Awaitable[None]]:
        async def work(held: _Held) -> None:
            ok = await self._call(self.handler, msg, held, "message")
            if ok is None:
                return
            if ok:
                self.stats.succeeded += 1
            else:
                self.stats.failed += 1
            self._settle(held, ok)

        return work

    def _handle_dead_letter(self, letter: DLQMessage) -> Callable[[_Held], Awaitable[None]]:
        assert self.dlq_handler is not None
        dlq_handler = self.dlq_handler

        async def work(held: _Held) -> None:
            ok = await self._call(dlq_handler, letter, held, "dead letter")
            if ok is None:
                return
            if ok:
                self._plan.dlq_handler_succeeded()
            else:
                self._plan.dlq_handler_failed(time.monotonic())
            self._settle(held, ok)

        return work

    async def _call(
        self, handler: Callable[[T], Any], item: T, held: _Held, what: str
    ) -> bool | None:
        """True if the handler returned, False if it raised, None if it was abandoned."""
        try:
            if inspect.iscoroutinefunction(handler):
                result = await handler(item)
            else:
                assert self._threads is not None
                result = await self._threads.run(handler, item)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            if held.abandoned:
                return None
            raise
        except Nack as exc:
            log.debug("handler nacked %s", what, extra={"job": self.job, "msg_id": held.msg_id,
                                                         "reason": exc.reason})  # fmt: skip
            return False
        except Exception:
            log.warning(
                "handler failed on %s %d; nacking it",
                what,
                held.msg_id,
                exc_info=True,
                extra={"job": self.job, "msg_id": held.msg_id},
            )
            return False
        return True

    def _settle(self, held: _Held, ok: bool) -> None:
        if not held.abandoned and self._settler is not None:  # abandoned ones are nacked
            self._settler.add("ack" if ok else "nack", held.msg_id)

    async def _finish_handlers(self, settler: Settler) -> None:
        """Give running handlers until the shutdown deadline, then nack the rest."""
        deadline = (self._stop_at or time.monotonic()) + self.shutdown_timeout_s
        while self._held and not self._hurry_requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        left = [h for h in self._held.values() if not h.abandoned]
        if left:
            log.warning(
                "%d handler(s) still running at shutdown: nacking their messages",
                len(left),
                extra={"job": self.job},
            )
        for held in left:
            held.abandoned = True
            self.stats.abandoned += 1
            settler.add("nack", held.msg_id)
            if held.task is not None:
                held.task.cancel()
        tasks = [h.task for h in left if h.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)


def _check(name: str, value: object, ok: bool, why: str = "") -> None:
    if not ok:
        raise ValueError(f"Worker {name}={value!r} is out of range" + (f": {why}" if why else ""))


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
