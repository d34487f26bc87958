"""The dispatcher: which jobs it serves, their worklets, and the sync with the controller.

A job has one current worklet and, while a new version takes over, older ones that only
settle what their workers still hold before they close.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from jobqueue.contract import BrokerContext
from jobqueue.dispatcher.controller_client import ControllerClient
from jobqueue.dispatcher.ids import IdGenerator
from jobqueue.dispatcher.metrics import DispatcherMetrics
from jobqueue.dispatcher.worklet import Worklet, WorkletSettings
from jobqueue.errors import (
    ControllerUnavailable,
    JobNotFound,
    NotSubscribed,
    ServiceUnavailable,
)
from jobqueue.models import DLQMessage, IdsReply, Job, Message, convert
from jobqueue.models.job import Name
from jobqueue.plugins import BrokerRegistry, load_brokers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatcherSettings:
    controller_url: str = "http://127.0.0.1:4000"
    controller_token: str | None = None
    data_dir: str = ".jobqueue"
    dispatcher_id: str = field(default_factory=lambda: f"dispatcher-{uuid.uuid4().hex[:12]}")
    sync_interval_s: float = 5.0
    drain_timeout_s: float = 30.0
    broker_timeout_s: float = 10.0
    worklet: WorkletSettings = field(default_factory=WorkletSettings)


@dataclass
class Subscription:
    job: Job
    current: Worklet
    old: list[Worklet] = field(default_factory=list)

    def worklets(self) -> list[Worklet]:
        return [self.current, *self.old]


class Dispatcher:
    def __init__(
        self, settings: DispatcherSettings, registry: BrokerRegistry | None = None
    ) -> None:
        self.settings = settings
        self.registry = registry or load_brokers()
        self.controller = ControllerClient(settings.controller_url, settings.controller_token)
        self.metrics = DispatcherMetrics()
        self.ids = IdGenerator()
        self.subscriptions: dict[str, Subscription] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.controller_error: str | None = None
        self.last_sync: float | None = None
        self.shutting_down = False
        self._sync_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._sync_task = asyncio.create_task(self._sync_loop())

    async def drain(self) -> None:
        """Stop handing out messages; wait for workers to settle what they hold."""
        self.shutting_down = True
        await asyncio.gather(
            *(
                w.drain(self.settings.drain_timeout_s)
                for s in self.subscriptions.values()
                for w in s.worklets()
            )
        )

    async def stop(self) -> None:
        """Close every worklet (un-acked messages go back to the broker) and deregister."""
        self.shutting_down = True
        if self._sync_task is not None:
            self._sync_task.cancel()
        for task in list(self._background):
            task.cancel()
        for name in list(self.subscriptions):
            await self._drop(name, deregister=True)
        await self.controller.aclose()

    # -- subscriptions ---------------------------------------------------------------------

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def subscribe(self, name: str) -> None:
        if self.shutting_down:
            raise ServiceUnavailable("dispatcher is shutting down")
        # A name the controller could never have created is the worker's mistake (400), not
        # a refusal of the controller's to pass on as a 500.
        convert(name, Name, prefix="name")
        async with self._lock(name):
            if name in self.subscriptions:
                return
            job = await self.controller.register(self.settings.dispatcher_id, name)
            if job.state == "archived":
                raise JobNotFound(name)
            worklet = await self._open(job)
            self.subscriptions[name] = Subscription(job, worklet)
            log.info("subscribed", extra={"job": name, "version": job.version})

    async def unsubscribe(self, name: str) -> None:
        async with self._lock(name):
            if name not in self.subscriptions:
                raise NotSubscribed(name)
            await self._drop(name, deregister=True)

    async def _drop(self, name: str, *, deregister: bool) -> None:
        sub = self.subscriptions.pop(name, None)
        if sub is None:
            return
        for worklet in sub.worklets():
            await worklet.drain(self.settings.drain_timeout_s if not deregister else 0)
            await worklet.close()
        if deregister:
            try:
                await self.controller.deregister(self.settings.dispatcher_id, sub.job.id)
            except Exception as exc:  # the controller expires us anyway
                log.warning("deregister failed", extra={"job": name, "error": str(exc)})

    async def _open(self, job: Job, *, consume: bool = True) -> Worklet:
        broker_cls = self.registry.get(job.queue_config.type)
        config = broker_cls.parse_config(job.queue_config.config)
        context = BrokerContext(
            data_dir=self.settings.data_dir,
            instance_id=self.settings.dispatcher_id,
            timeout_s=self.settings.broker_timeout_s,
        )
        broker = broker_cls(config, context)
        worklet = Worklet(job, broker, self.ids, self.metrics, self.settings.worklet)
        await worklet.start(consume=consume)
        return worklet

    def subscription(self, name: str) -> Subscription:
        sub = self.subscriptions.get(name)
        if sub is None:
            raise NotSubscribed(name)
        return sub

    # -- worker operations -----------------------------------------------------------------

    def _serving(self, name: str) -> Worklet:
        if self.shutting_down:
            raise ServiceUnavailable("dispatcher is shutting down: ack and nack still work")
        return self.subscription(name).current

    async def poll(
        self, name: str, queue: str, max_messages: int, max_wait_ms: int
    ) -> list[Message]:
        return await self._serving(name).poll(queue, max_messages, max_wait_ms)

    async def poll_dlq(self, name: str, max_messages: int, max_wait_ms: int) -> list[DLQMessage]:
        return await self._serving(name).poll_dlq(max_messages, max_wait_ms)

    async def publish(self, name: str, msgs: Sequence[Message]) -> list[int]:
        if self.shutting_down:
            raise ServiceUnavailable("dispatcher is shutting down")
        return await self.subscription(name).current.publish(msgs)

    async def redrive(self, name: str, max_messages: int, target: str) -> int:
        return await self._serving(name).redrive(max_messages, target)

    async def settle(
        self, name: str, msg_ids: Sequence[int], action: str, extend_ms: int = 0
    ) -> IdsReply:
        """Ack, nack or extend ids, each on the worklet (current or old version) that holds it."""
        sub = self.subscription(name)
        by_worklet: dict[Worklet, list[int]] = {}
        bad: list[int] = []
        if not sub.old:
            # One version serves the job (the usual case): it tells held ids from bad ones
            # itself, so the ids need no sorting out here, one by one.
            if msg_ids:
                by_worklet[sub.current] = list(msg_ids)
        else:
            for msg_id in dict.fromkeys(msg_ids):
                owner = next((w for w in sub.worklets() if w.owns(msg_id)), None)
                if owner is None:
                    bad.append(msg_id)
                else:
                    by_worklet.setdefault(owner, []).append(msg_id)
        failed: list[int] = []
        errors: list[str] = []
        for worklet, ids in by_worklet.items():
            if action == "ack":
                reply = await worklet.ack(ids)
            elif action == "nack":
                reply = await worklet.nack(ids)
            else:
                reply = await worklet.extend(ids, extend_ms)
            failed += reply.failed_ids
            bad += reply.bad_ids
            if reply.error:
                errors.append(reply.error)
        return IdsReply(failed_ids=failed, bad_ids=bad, error="; ".join(errors))

    # -- controller sync -------------------------------------------------------------------

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sync_interval_s)
            try:
                await self.sync()
            except Exception as exc:  # keep serving the last known config
                log.warning("sync failed", extra={"error": str(exc)})

    async def sync(self) -> None:
        """Gossip with the controller and follow state changes and new versions."""
        try:
            jobs = await self.controller.gossip(self.settings.dispatcher_id)
        except ControllerUnavailable as exc:
            self.controller_error = exc.message
            return
        self.controller_error = None
        self.last_sync = time.time()
        latest = {job.name: job for job in jobs}
        for name in list(self.subscriptions):
            job = latest.get(name)
            if job is None:  # our registration expired on the controller: register again
                try:
                    job = await self.controller.register(self.settings.dispatcher_id, name)
                except JobNotFound:
                    continue
                except ControllerUnavailable as exc:
                    self.controller_error = exc.message
                    return
            await self._follow(job)

    async def _follow(self, job: Job) -> None:
        async with self._lock(job.name):
            sub = self.subscriptions.get(job.name)
            if sub is None:
                return
            if job.state == "archived":
                log.info("job archived; unsubscribing", extra={"job": job.name})
                await self._drop(job.name, deregister=True)
                return
            # A closed current version is one that failed to start reading after a switch
            # (see `_retire`): open it again, as a new version.
            if job.version != sub.job.version or sub.current.closed:
                # The new version reads once the older ones have settled and closed (see
                # `Worklet.start`); until then its polls wait like polls of an empty queue.
                new = await self._open(job, consume=False)
                old = sub.current
                sub.old.append(old)
                sub.current = new
                sub.job = job
                log.info("serving new version", extra={"job": job.name, "version": job.version})
                self._retire(sub, old)
            elif job.state != sub.job.state:
                sub.job = job
                sub.current.set_state(job.state)
                log.info("job state changed", extra={"job": job.name, "state": job.state})

    def _retire(self, sub: Subscription, old: Worklet) -> None:
        async def retire() -> None:
            try:
                await old.drain(self.settings.drain_timeout_s)
                await old.close()
            finally:
                if old in sub.old:
                    sub.old.remove(old)
                if not sub.old and not self.shutting_down:
                    try:
                        await sub.current.consume()
                    except Exception as exc:  # it closed itself: the next sync reopens it
                        log.error(
                            "new version could not start reading; retrying at the next sync",
                            extra={"job": sub.job.name, "error": str(exc)},
                        )

        task = asyncio.create_task(retire())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- health ----------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, list[str]]:
        """(serving, reasons it is degraded)."""
        reasons: list[str] = []
        if self.controller_error:
            reasons.append(
                f"controller unreachable, serving last known config: {self.controller_error}"
            )
        for name, sub in self.subscriptions.items():
            for queue, receiver in sub.current.receivers.items():
                if receiver.error:
                    reasons.append(f"job {name} receiver {queue}: {receiver.error}")
        if self.shutting_down:
            reasons.append("shutting down")
        return not self.shutting_down, reasons
