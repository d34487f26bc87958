"""Workers and publishers that keep going through crashes, and the ledger they fill.

A worker behaves like a real one: it long-polls, acks, re-subscribes after a dispatcher
restart (404) and waits out refused connections. Only a publish answered 200 counts as
accepted, and only an ack whose reply does not list the id as bad or failed counts as acked:
the ledger then says whether anything accepted was never acked, and how many duplicates
at-least-once delivery cost.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx

from tests.e2e.conftest import Api


class Ledger:
    """Message ids accepted, delivered and acked; safe to fill from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted: set[int] = set()
        self.delivered: Counter[int] = Counter()
        self.acked: Counter[int] = Counter()
        self.unconfirmed: set[int] = set()  # ack sent, no reply: the dispatcher died
        self.statuses: Counter[str] = Counter()

    def accept(self, ids: list[int]) -> None:
        with self._lock:
            self.accepted.update(ids)

    def deliver(self, ids: list[int]) -> None:
        with self._lock:
            self.delivered.update(ids)

    def ack(self, ids: list[int]) -> None:
        with self._lock:
            self.acked.update(ids)

    def ack_unconfirmed(self, ids: list[int]) -> None:
        with self._lock:
            self.unconfirmed.update(ids)

    def status(self, route: str, code: int | str) -> None:
        with self._lock:
            self.statuses[f"{route} {code}"] += 1

    def missing(self) -> set[int]:
        """Accepted ids neither acked nor in an ack that got no reply (whether those were
        acked is for the broker to say: see `tests.reliability.leftovers`)."""
        with self._lock:
            return self.accepted - set(self.acked) - self.unconfirmed

    def wait_all_acked(self, timeout_s: float) -> set[int]:
        """Wait until every accepted id is acked; returns the ids still missing."""
        deadline = time.monotonic() + timeout_s
        while (missing := self.missing()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return missing

    def summary(self) -> str:
        with self._lock:
            redelivered = sum(n - 1 for n in self.delivered.values())
            acked_twice = sum(n - 1 for n in self.acked.values())
            unknown = len(set(self.delivered) - self.accepted)
            missing = self.accepted - set(self.acked) - self.unconfirmed
            seen_missing = sum(1 for i in missing if self.delivered[i])
            return (
                f"accepted {len(self.accepted)}, acked {len(set(self.acked) & self.accepted)}, "
                f"missing {len(missing)} ({seen_missing} of them delivered), "
                f"deliveries {sum(self.delivered.values())} ({redelivered} redelivered), "
                f"acked twice {acked_twice}, ack without reply {len(self.unconfirmed)}, "
                f"delivered but never accepted {unknown}"
            )


class Worker(threading.Thread):
    """Polls the main queue and retry queue 0 of ``job`` on the dispatcher ``api()`` names,
    holds each batch ``hold_s`` seconds (processing), then acks it."""

    def __init__(
        self, api: Callable[[], Api], job: str, ledger: Ledger, *, hold_s: float = 0.0
    ) -> None:
        super().__init__(name=f"worker-{job}", daemon=True)
        self.api = api
        self.job = job
        self.ledger = ledger
        self.hold_s = hold_s
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self.acked = 0

    def run(self) -> None:
        api = self.api()
        try:
            while not self.stopping.is_set():
                try:
                    self._round(api)
                except httpx.TransportError:
                    self.stopping.wait(0.1)  # dispatcher down or restarting, as for a real worker
                except Exception as exc:  # recorded for the test to fail on, never swallowed
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    self.stopping.wait(0.1)
        finally:
            api.close()

    def _round(self, api: Api) -> None:
        for path, extra in (("messages", {"max_wait_ms": 300}), ("messages/retry", {})):
            body = {"name": self.job, "max_messages": 50, **extra}
            if path == "messages/retry":
                body["retry_queue"] = 0
            response = api.dispatcher.post(f"/api/v1/worker/{path}", json=body)
            self.ledger.status(path, response.status_code)
            if response.status_code == 404:
                api.worker("subscribe", name=self.job)
                return
            if response.status_code != 200:
                self.stopping.wait(0.1)
                return
            ids = [m["id"] for m in response.json()["msgs"]]
            if not ids:
                continue
            self.ledger.deliver(ids)
            if self.hold_s:
                self.stopping.wait(self.hold_s)
            self._ack(api, ids)

    def _ack(self, api: Api, ids: list[int]) -> None:
        pending = ids
        while pending and not self.stopping.is_set():
            try:
                response = api.worker("ack", name=self.job, msg_ids=pending)
            except httpx.TransportError:
                self.ledger.ack_unconfirmed(pending)
                raise
            self.ledger.status("ack", response.status_code)
            if response.status_code != 200:
                return  # e.g. 404 after a restart: the broker redelivers them
            reply = response.json()
            not_acked = set(reply["failed_ids"]) | set(reply["bad_ids"])
            done = [i for i in pending if i not in not_acked]
            self.ledger.ack(done)
            self.acked += len(done)
            pending = reply["failed_ids"]  # held but the broker failed: retry them
            if pending:
                self.stopping.wait(0.2)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


class Publisher(threading.Thread):
    """Publishes ``total`` messages in batches to ``job``, retrying batches that were not
    accepted (refused connection, 503) until each is answered 200."""

    def __init__(
        self,
        api: Callable[[], Api],
        job: str,
        ledger: Ledger,
        *,
        total: int,
        batch: int = 20,
        pause_s: float = 0.01,
    ) -> None:
        super().__init__(name=f"publisher-{job}", daemon=True)
        self.api = api
        self.job = job
        self.ledger = ledger
        self.total = total
        self.batch = batch
        self.pause_s = pause_s
        self.stopping = threading.Event()
        self.sent = 0
        self.errors: list[str] = []

    def run(self) -> None:
        api = self.api()
        try:
            while self.sent < self.total and not self.stopping.is_set():
                if not self._publish(api):
                    return
                self.stopping.wait(self.pause_s)
        finally:
            api.close()

    def _publish(self, api: Api) -> bool:
        """One batch; False when the dispatcher answered something no retry can fix."""
        # Keyed, so a partitioned broker spreads them over every partition.
        msgs = [
            {"data": {"n": n}, "external_id": f"k{n}"}
            for n in range(self.sent, self.sent + self.batch)
        ]
        try:
            response = api.worker("publish", name=self.job, msgs=msgs)
        except httpx.TransportError:
            self.ledger.status("publish", "transport error")
            self.stopping.wait(0.1)
            return True
        self.ledger.status("publish", response.status_code)
        if response.status_code == 200:
            self.ledger.accept(response.json()["ids"])
            self.sent += self.batch
        elif response.status_code == 404:  # a restarted dispatcher serves nothing yet
            api.worker("subscribe", name=self.job)
        elif response.status_code == 503:
            self.stopping.wait(0.1)  # the broker is away: retry the batch
        else:
            self.errors.append(f"publish answered {response.status_code}: {response.text}")
            return False
        return True

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
