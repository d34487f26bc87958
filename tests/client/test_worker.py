"""`Worker` against a real `jobqueue dev`: acks, nacks through the retry queues to the DLQ
handler, concurrency, lease extension, graceful SIGTERM, dispatcher restarts and
back-pressure, unrecoverable errors."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from jobqueue.client import (
    DispatcherClient,
    DLQMessage,
    JobNotFound,
    Message,
    Nack,
    Worker,
    dead_letter_message,
    message_data,
    new_message,
)
from jobqueue.testing.processes import DevStack
from tests.client.conftest import Controller, start_stack, stop_stack

HERE = Path(__file__).resolve().parent


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def running(worker: Worker) -> Iterator[Worker]:
    """Runs ``worker`` on a thread; stops it on exit and re-raises what it raised."""
    raised: list[BaseException] = []

    def target() -> None:
        try:
            worker.run()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=target, name="worker-under-test")
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(60)
        assert not thread.is_alive(), "worker did not stop within 60 s"
    if raised:
        raise raised[0]


def publish(url: str, job: str, values: list[Any]) -> list[int]:
    with DispatcherClient(url) as client:
        client.subscribe(job)
        return client.publish(job, [new_message(v) for v in values])


def test_acks_successes_and_walks_failures_through_retries_to_the_dlq_handler(
    stack: DevStack, controller: Controller, job_name: str
) -> None:
    """Sync handler: evens are acked at once; odds are nacked at attempts 1, 2, 3 (one per
    retry queue) and then reach the DLQ handler with reason max_retry, which deletes them."""
    controller.active_job(job_name)
    ids = publish(stack.dispatcher_url, job_name, list(range(10)))
    seen: list[tuple[int, int]] = []
    letters: list[DLQMessage] = []
    lock = threading.Lock()

    def handle(message: Message) -> None:
        with lock:
            seen.append((message_data(message), message.attempt))
        if message_data(message) % 2:
            raise Nack("odd")

    def handle_dead(letter: DLQMessage) -> None:
        with lock:
            letters.append(letter)

    worker = Worker(job_name, handle, dlq_handler=handle_dead, dispatcher_url=stack.dispatcher_url,
                    concurrency=3, poll_wait_ms=300)  # fmt: skip
    with running(worker):
        wait_for(lambda: len(letters) == 5 and worker.stats.acked == 10, "5 dead letters")
    attempts = Counter(value for value, _ in seen)
    assert attempts == {v: 3 if v % 2 else 1 for v in range(10)}
    assert sorted(a for v, a in seen if v == 1) == [1, 2, 3]
    dead = [dead_letter_message(letter) for letter in letters]
    assert sorted(message_data(m) for m in dead if m is not None) == [1, 3, 5, 7, 9]
    assert {m.id for m in dead if m is not None} <= set(ids)
    assert {letter.reason for letter in letters} == {"max_retry"}
    stats = worker.stats
    assert (stats.received, stats.succeeded, stats.failed) == (20, 5, 15)
    assert (stats.acked, stats.nacked, stats.dead_letters_received) == (10, 15, 5)
    with DispatcherClient(stack.dispatcher_url) as client:
        assert client.poll_dlq(job_name, max_wait_ms=300) == [], "DLQ handler acks delete"


def test_async_handler_runs_concurrency_at_once(
    stack: DevStack, controller: Controller, job_name: str
) -> None:
    """An async handler runs on the event loop, up to `concurrency` at a time, never more."""
    controller.active_job(job_name)
    publish(stack.dispatcher_url, job_name, list(range(12)))
    running_now = 0
    peak = 0
    done: list[int] = []

    async def handle(message: Message) -> None:
        nonlocal running_now, peak
        running_now += 1
        peak = max(peak, running_now)
        await asyncio.sleep(0.3)
        running_now -= 1
        done.append(message_data(message))

    worker = Worker(job_name, handle, dispatcher_url=stack.dispatcher_url, concurrency=4,
                    poll_wait_ms=300)  # fmt: skip
    started = time.monotonic()
    with running(worker):
        wait_for(lambda: worker.stats.acked == 12, "12 acks")
    assert sorted(done) == list(range(12))
    assert peak == 4
    assert time.monotonic() - started < 12 * 0.3, "handlers did not overlap"


@pytest.fixture(scope="module")
def long_lease_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """The broker keeps deliveries leased 10 s beyond max_processing_time: /extend moves only
    the dispatcher's deadline, so a test of extension must stay inside the broker's lease."""
    dev = start_stack(tmp_path_factory.mktemp("long-lease"), "--lease-margin-ms", "10000")
    yield dev
    stop_stack(dev)


@pytest.mark.parametrize("extend", [True, False])
def test_long_handler_keeps_its_lease_only_when_extended(
    long_lease_stack: DevStack, job_name: str, extend: bool
) -> None:
    """A 2.5 s handler on a job with max_processing_time 1 s: with lease extension every
    0.3 s it is acked once; without, the dispatcher times it out and hands it out again."""
    stack = long_lease_stack
    controller = Controller(stack.controller_url)
    controller.active_job(job_name, max_processing_time_ms=1000)
    controller.close()
    publish(stack.dispatcher_url, job_name, ["slow"])
    attempts: list[int] = []

    def handle(message: Message) -> None:
        attempts.append(message.attempt)
        if message.attempt == 1:
            time.sleep(2.5)

    worker = Worker(job_name, handle, dispatcher_url=stack.dispatcher_url, concurrency=2,
                    poll_wait_ms=200, lease_interval_s=0.3 if extend else 10.0,
                    lease_extension_ms=1000 if extend else 30_000)  # fmt: skip
    with running(worker):
        wait_for(lambda: worker.stats.acked + worker.stats.stale >= len(attempts) >= 1
                 and (extend or len(attempts) == 2), "the handler to finish", 20)  # fmt: skip
        time.sleep(1.5)  # long enough for a timed-out lease to be handed out again
    if extend:
        assert attempts == [1] and worker.stats.stale == 0 and worker.stats.acked == 1
    else:
        assert attempts == [1, 2] and worker.stats.stale == 1 and worker.stats.acked == 1


def run_worker_process(
    url: str, job: str, events: Path, sleep_s: float, shutdown_s: float
) -> subprocess.Popen[str]:
    command = [sys.executable, str(HERE / "worker_process.py"), url, job, str(events),
               str(sleep_s), str(shutdown_s)]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def lines(path: Path, prefix: str) -> list[str]:
    text = path.read_text() if path.exists() else ""
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_sigterm_lets_running_handlers_finish_and_acks_them(
    stack: DevStack, controller: Controller, job_name: str, tmp_path: Path
) -> None:
    """SIGTERM while 3 handlers run: no new polls, the 3 finish, are acked, exit 0."""
    controller.active_job(job_name)
    events = tmp_path / "events"
    process = run_worker_process(stack.dispatcher_url, job_name, events, 1.5, 30)
    try:
        publish(stack.dispatcher_url, job_name, [1, 2, 3])
        wait_for(lambda: len(lines(events, "start")) == 3, "3 handlers to start")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    assert len(lines(events, "done")) == 3
    assert (stats["acked"], stats["abandoned"], stats["unsettled"]) == (3, 0, 0), stats
    with DispatcherClient(stack.dispatcher_url) as client:
        assert client.poll(job_name, max_wait_ms=300) == []


@pytest.mark.parametrize(
    ("shutdown_timeout_s", "signals"), [(0.5, 1), (60.0, 2)], ids=["deadline", "second-signal"]
)
def test_sigterm_nacks_handlers_still_running_at_the_shutdown_deadline(
    stack: DevStack,
    controller: Controller,
    job_name: str,
    tmp_path: Path,
    shutdown_timeout_s: float,
    signals: int,
) -> None:
    """A handler that outlives shutdown_timeout_s, or any handler after a second SIGTERM, is
    nacked: the message goes on to its retry queue (attempt 2) at once instead of waiting for
    its lease to expire, and the process exits although the handler's thread still sleeps."""
    controller.active_job(job_name, max_processing_time_ms=60_000)
    events = tmp_path / "events"
    process = run_worker_process(stack.dispatcher_url, job_name, events, 30, shutdown_timeout_s)
    try:
        [msg_id] = publish(stack.dispatcher_url, job_name, ["stuck"])
        wait_for(lambda: len(lines(events, "start")) == 1, "the handler to start")
        for _ in range(signals):
            process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    stats = json.loads(out.strip().splitlines()[-1])
    assert (stats["abandoned"], stats["nacked"], stats["acked"]) == (1, 1, 0), stats
    with DispatcherClient(stack.dispatcher_url) as client:
        retried = client.poll_retry(job_name, 0, max_wait_ms=2000)
    assert [(m.id, m.attempt) for m in retried] == [(msg_id, 2)]


def test_survives_a_dispatcher_restart_and_back_pressure(tmp_path: Path) -> None:
    """The dispatcher goes away (SIGTERM, then connection refused) and comes back on the same
    port without the subscription: the worker retries with backoff, subscribes again and
    handles what is published next. --max-in-flight 2 below concurrency 4: it rides the 503s
    and never runs more than 2 handlers."""
    dev = start_stack(tmp_path / "dev", "--max-in-flight", "2")
    controller = Controller(dev.controller_url)
    controller.active_job("restart")
    controller.close()
    handled: list[int] = []
    running_now = 0
    peak = 0
    lock = threading.Lock()

    def handle(message: Message) -> None:
        nonlocal running_now, peak
        with lock:
            running_now += 1
            peak = max(peak, running_now)
        time.sleep(0.1)
        with lock:
            running_now -= 1
            handled.append(message_data(message))

    worker = Worker("restart", handle, dispatcher_url=dev.dispatcher_url, concurrency=4,
                    poll_wait_ms=300, max_backoff_s=0.5)  # fmt: skip
    try:
        with running(worker):
            publish(dev.dispatcher_url, "restart", list(range(6)))
            wait_for(lambda: worker.stats.acked == 6, "the first 6 acks")
            stop_stack(dev)
            time.sleep(1.0)  # polls fail: connection refused
            again = DevStack(tmp_path / "dev", "--sync-interval", "0.2", "--lease-margin-ms",
                             "1000", "--max-in-flight", "2")  # fmt: skip
            again.controller_port, again.dispatcher_port = dev.controller_port, dev.dispatcher_port
            dev = again.start()
            publish(dev.dispatcher_url, "restart", list(range(6, 12)))
            wait_for(lambda: worker.stats.acked == 12, "6 more acks after the restart")
    finally:
        stop_stack(dev)
    assert sorted(handled) == list(range(12))
    assert peak <= 2
    assert worker.stats.unsettled == 0


def test_unknown_job_stops_the_worker_with_job_not_found(stack: DevStack) -> None:
    """A job the controller does not know is not retried: run() raises JobNotFound."""
    worker = Worker("no-such-job", lambda m: None, dispatcher_url=stack.dispatcher_url)
    started = time.monotonic()
    with pytest.raises(JobNotFound):
        worker.run()
    assert time.monotonic() - started < 10


def test_bad_settings_are_refused_naming_the_parameter() -> None:
    """Out-of-range settings raise ValueError naming the parameter, before any I/O."""
    with pytest.raises(ValueError, match="concurrency"):
        Worker("j", lambda m: None, concurrency=0)
    with pytest.raises(ValueError, match="lease_extension_ms"):
        Worker("j", lambda m: None, lease_interval_s=5, lease_extension_ms=1000)
