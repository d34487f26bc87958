"""One measurement: warm up, then time N messages through one mode, and turn it into a row.

A run has two phases on the same connections: a warm-up (consumer-group joins, lazy imports,
connection pools) and the timed phase. In each, a producer thread publishes batches (at a fixed
rate when one is given) while the workers poll and ack; the timed window runs from the first
publish to the last ack, and the probes measure CPU and memory over exactly that window.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.direct import DirectSession
from bench.http_mode import DispatcherSession
from bench.probes import Probes
from bench.profiling import PySpy
from bench.results import Row, per_10k, percentile_ms
from bench.services import Controller, Dispatcher
from bench.targets import BenchError, Target
from bench.workload import Tracker, Workload


@dataclass(frozen=True)
class Spec:
    """What to measure. ``rate``: messages per second to publish (None: as fast as possible)."""

    messages: int
    batch: int
    workers: int = 1
    payload_bytes: int = 100
    rate: float | None = None
    publish_batch: int | None = None  # defaults to ``batch``
    timeout_s: float = 300.0
    profile: Path | None = None  # py-spy output for the serving process of each measurement

    @property
    def warmup_messages(self) -> int:
        return max(self.batch * self.workers, 200)


@dataclass
class Measurement:
    row: Row
    latencies_ns: list[int]


class Session(Protocol):
    mode: str
    pid: int

    def publish(self, seqs: range) -> None: ...
    def loops(self) -> list[Callable[[Tracker], None]]: ...
    def close(self) -> None: ...


def measure_direct(target: Target, spec: Spec) -> Measurement:
    topic = f"bench-direct-{uuid.uuid4().hex[:10]}"
    workload = Workload(spec.messages, spec.payload_bytes)
    session = DirectSession(target, topic, workload, spec.batch, spec.workers)
    try:
        return _measure(target, spec, session, bench_is_serving=True)
    finally:
        session.close()


def measure_dispatcher(target: Target, controller: Controller, spec: Spec) -> Measurement:
    name = f"bench-dispatcher-{uuid.uuid4().hex[:10]}"
    workdir = controller.workdir / name
    with Dispatcher(workdir, controller) as dispatcher:
        controller.create_job(name, target.queue_config(name))
        dispatcher.subscribe(name)
        workload = Workload(spec.messages, spec.payload_bytes)
        session = DispatcherSession(
            dispatcher.url, dispatcher.pid, name, workload, spec.batch, spec.workers
        )
        try:
            return _measure(target, spec, session, bench_is_serving=False)
        finally:
            session.close()


def _measure(
    target: Target, spec: Spec, session: Session, *, bench_is_serving: bool
) -> Measurement:
    warmup = Tracker(spec.warmup_messages, 0, min_duration_s=target.settle_s)
    run_phase(session, warmup, spec.publish_batch or spec.batch, None, spec.timeout_s)
    tracker = Tracker(spec.messages, first=warmup.messages)
    pids = {"serving": session.pid, "broker": target.server_pid}
    if not bench_is_serving:
        pids["bench"] = os.getpid()
    profiler: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if spec.profile is not None:
        output = spec.profile.with_stem(f"{spec.profile.stem}-{target.broker}-{session.mode}")
        profiler = PySpy(session.pid, output)
    with profiler, Probes(**pids) as probes:
        run_phase(session, tracker, spec.publish_batch or spec.batch, spec.rate, spec.timeout_s)
    latencies = sorted(tracker.latencies_ns)
    bench_cpu = probes.cpu_s("serving" if bench_is_serving else "bench")
    row = Row(
        broker=target.broker,
        mode=session.mode,
        messages=spec.messages,
        batch=spec.batch,
        workers=spec.workers,
        msgs_per_s=spec.messages / tracker.elapsed_s,
        p50_ms=percentile_ms(latencies, 0.50),
        p99_ms=percentile_ms(latencies, 0.99),
        cpu_s_per_10k=per_10k(probes.cpu_s("serving"), spec.messages),
        rss_mb=probes.rss_mb("serving"),
        bench_cpu_s_per_10k=per_10k(bench_cpu, spec.messages),
        broker_cpu_s_per_10k=per_10k(probes.cpu_s("broker"), spec.messages),
    )
    return Measurement(row, latencies)


def run_phase(
    session: Session, tracker: Tracker, publish_batch: int, rate: float | None, timeout_s: float
) -> None:
    """Publish the tracker's messages and consume them with every loop of ``session``."""

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:
                tracker.fail(exc)

        return run

    threads = [
        threading.Thread(target=guarded(functools.partial(loop, tracker)), name=f"bench-{i}")
        for i, loop in enumerate(session.loops())
    ]
    produce = functools.partial(_produce, session, tracker, publish_batch, rate)
    threads.append(threading.Thread(target=guarded(produce), name="bench-producer"))
    tracker.start()
    for thread in threads:
        thread.start()
    if not tracker.done.wait(timeout_s):
        tracker.fail(
            BenchError(
                f"{session.mode}: {tracker.count} of {tracker.messages} messages acked "
                f"within {timeout_s:g} s"
            )
        )
    for thread in threads:
        thread.join()
    if tracker.failed is not None:
        raise tracker.failed


def _produce(session: Session, tracker: Tracker, batch: int, rate: float | None) -> None:
    seqs = tracker.seqs
    interval = batch / rate if rate else 0.0
    next_at = time.monotonic()
    for start in range(seqs.start, seqs.stop, batch):
        if tracker.done.is_set():
            return
        if interval:
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at += interval
        session.publish(range(start, min(start + batch, seqs.stop)))


def workdir_for(root: Path, broker: str) -> Path:
    path = root / f"{broker}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    return path
