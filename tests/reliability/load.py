"""A load run: long-polling workers and paced publishers against one dispatcher, with the
serving process's memory sampled throughout.

Everything runs on one asyncio loop in the test process (50 threads would cost more CPU than
the service under test gets on a small machine). Every HTTP reply is counted by route and
status; a 503 is expected only as back-pressure on a poll.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

W = "/api/v1/worker"


def rss_kib(pid: int) -> int:
    """Resident set size of process ``pid`` in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class LoadReport:
    seconds: float
    accepted: set[int] = field(default_factory=set)
    delivered: Counter[int] = field(default_factory=Counter)
    acked: Counter[int] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    drain_s: float = 0.0

    @property
    def missing(self) -> set[int]:
        return self.accepted - set(self.acked)

    def rss_bound(self, slack_kib: int) -> tuple[int, int]:
        """(max RSS of the last third, allowed: 1.5 x max of the first third + slack)."""
        third = max(1, len(self.rss_kib) // 3)
        first, last = self.rss_kib[:third], self.rss_kib[-third:]
        return max(last), int(1.5 * max(first)) + slack_kib

    def summary(self, label: str) -> str:
        redelivered = sum(n - 1 for n in self.delivered.values())
        mib = [round(k / 1024, 1) for k in self.rss_kib]
        return (
            f"\n{label}: {self.seconds:.0f} s of load, {len(self.accepted)} messages published "
            f"({len(self.accepted) / self.seconds:.0f}/s), {len(set(self.acked))} acked, "
            f"missing {len(self.missing)}, duplicates {redelivered} redelivered / "
            f"{sum(n - 1 for n in self.acked.values())} acked twice, drained in "
            f"{self.drain_s:.1f} s\nreplies: {dict(sorted(self.replies.items()))}\n"
            f"RSS MiB every 2 s: {mib}"
        )


async def run_load(
    url: str,
    job: str,
    pid: int,
    *,
    seconds: float,
    workers: int = 50,
    publishers: int = 10,
    rate: float = 300.0,
    batch: int = 5,
    drain_timeout_s: float = 60.0,
) -> LoadReport:
    """``workers`` long-poll (up to 10 messages, 1 s wait) and ack at once while
    ``publishers`` publish ``rate`` messages/s in batches, for ``seconds``; then the workers
    drain what is left. RSS of ``pid`` is sampled every 2 s from start to end."""
    report = LoadReport(seconds=seconds)
    publishing = asyncio.Event()
    publishing.set()
    working = asyncio.Event()
    working.set()
    limits = httpx.Limits(max_connections=workers + publishers + 10)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def call(route: str, body: dict[str, object]) -> httpx.Response | None:
            try:
                response = await client.post(f"{W}/{route}", json=body)
            except httpx.HTTPError as exc:
                report.replies[f"{route} {type(exc).__name__}"] += 1
                report.errors.append(f"{route}: {type(exc).__name__}: {exc}")
                return None
            code = response.status_code
            if code == 503:
                code_name = response.json().get("code")
                report.replies[f"{route} 503 {code_name}"] += 1
                if not (route.startswith("messages") and code_name == "back_pressure"):
                    report.errors.append(f"{route}: 503 {response.text}")
                return None
            report.replies[f"{route} {code}"] += 1
            if code != 200:
                report.errors.append(f"{route}: {code} {response.text}")
                return None
            return response

        async def worker(route: str, extra: dict[str, object]) -> None:
            while working.is_set():
                body = {"name": job, "max_wait_ms": 1000, "max_messages": 5, **extra}
                response = await call(route, body)
                if response is None:
                    await asyncio.sleep(0.05)
                    continue
                ids = [m["id"] for m in response.json()["msgs"]]
                if not ids:
                    continue
                report.delivered.update(ids)
                reply = await call("ack", {"name": job, "msg_ids": ids})
                if reply is not None:
                    not_acked = set(reply.json()["bad_ids"]) | set(reply.json()["failed_ids"])
                    report.acked.update(i for i in ids if i not in not_acked)

        async def publisher(index: int) -> None:
            interval = batch * publishers / rate
            next_at = time.monotonic() + index * interval / publishers
            n = 0
            while publishing.is_set():
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
                msgs = [{"data": {"p": index, "n": n + i}, "external_id": f"{index}-{n + i}"}
                        for i in range(batch)]  # fmt: skip
                n += batch
                response = await call("publish", {"name": job, "msgs": msgs})
                if response is not None:
                    report.accepted.update(response.json()["ids"])

        async def sample() -> None:
            while working.is_set():
                report.rss_kib.append(rss_kib(pid))
                await asyncio.sleep(2.0)

        tasks = [asyncio.create_task(worker("messages", {})) for _ in range(workers)]
        tasks.append(asyncio.create_task(worker("messages/retry", {"retry_queue": 0})))
        senders = [asyncio.create_task(publisher(i)) for i in range(publishers)]
        sampler = asyncio.create_task(sample())
        await asyncio.sleep(seconds)
        publishing.clear()
        await asyncio.gather(*senders)
        drain_started = time.monotonic()
        while report.missing and time.monotonic() - drain_started < drain_timeout_s:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        report.drain_s = time.monotonic() - drain_started
        working.clear()
        await asyncio.gather(*tasks, sampler)
    return report
