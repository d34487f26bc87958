"""The embedded SQLite broker across processes: durability after SIGKILL and a shared file.

Each child is a real Python process running the broker against the same file as the test;
the children report what they did on stdout, one line per event.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobqueue.brokers.sqlite import SqliteBroker, SqliteConfig
from jobqueue.contract import Delivery, Record
from jobqueue.testing import drain, payloads

CHILD = r"""
import json, sys, time
from jobqueue.brokers.sqlite import SqliteBroker, SqliteConfig
from jobqueue.contract import Record

mode, path, topic = sys.argv[1:4]
broker = SqliteBroker(SqliteConfig(topic=topic, path=path))


def say(*words):
    print(*words, flush=True)


if mode == "publish-forever":
    producer = broker.producer(topic)
    batch = 0
    while True:
        producer.publish([Record(f"{batch}-{i}".encode()) for i in range(10)])
        say("published", batch)
        batch += 1
elif mode == "poll-and-hang":
    group, count, lease_ms = sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    consumer = broker.consumer(topic, group, lease_ms=lease_ms)
    got = []
    while len(got) < count:
        got += consumer.poll(count - len(got), 1.0)
    say("polled", json.dumps(sorted(d.payload.decode() for d in got)))
    time.sleep(600)
elif mode == "consume":
    group = sys.argv[4]
    consumer = broker.consumer(topic, group)
    say("ready")
    started = last = time.monotonic()
    seen = False
    while True:
        batch = consumer.poll(5, 0.2)
        now = time.monotonic()
        if batch:
            consumer.ack(batch)
            seen, last = True, now
            for delivery in batch:
                say("got", delivery.payload.decode())
        elif (seen and now - last > 1.5) or now - started > 30:
            break
    consumer.close()
    say("done")
"""


class Child:
    """A child process running ``CHILD``; its stdout lines arrive on a queue."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix: str, timeout_s: float = 15.0) -> str:
        """The next line starting with ``prefix``; fails with the child's stderr otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"child printed no {prefix!r} line within {timeout_s}s")
            if line is None:
                self.process.wait()
                stderr = self.process.stderr.read() if self.process.stderr else ""
                pytest.fail(f"child exited ({self.process.returncode}) before {prefix!r}: {stderr}")
            if line.startswith(prefix):
                return line

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.close()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "broker.db")


def _drain_all(path: str, topic: str, group: str) -> list[Delivery]:
    """Everything group ``group`` can read now, through a fresh broker (a restarted process)."""
    broker = SqliteBroker(SqliteConfig(topic=topic, path=path))
    consumer = broker.consumer(topic, group)
    got: list[Delivery] = []
    while batch := consumer.poll(1000, 0.3):
        got.extend(batch)
        consumer.ack(batch)
    consumer.close()
    broker.close()
    return got


def test_published_batches_survive_sigkill_of_the_publisher(
    db_path: str, children: list[Child]
) -> None:
    """Every batch whose publish returned is there after SIGKILL; no batch is half there."""
    child = Child("publish-forever", db_path, "jobs")
    children.append(child)
    reported = int(child.expect("published 20").split()[1])
    child.kill()
    while (line := child.lines.get(timeout=5)) is not None:
        reported = int(line.split()[1])

    got = payloads(_drain_all(db_path, "jobs", "g"))

    batches: dict[int, set[int]] = {}
    for payload in got:
        batch, index = map(int, payload.decode().split("-"))
        batches.setdefault(batch, set()).add(index)
    assert len(got) == len(set(got))
    assert sorted(batches) == list(range(len(batches))), "a batch in the middle is missing"
    assert len(batches) >= reported + 1, f"batches 0..{reported} were reported durable"
    assert all(indexes == set(range(10)) for indexes in batches.values()), "a torn batch"


def test_deliveries_of_a_killed_consumer_come_back_after_the_lease(
    db_path: str, children: list[Child]
) -> None:
    """A consumer SIGKILLed with un-acked deliveries loses them to the group once leases run out."""
    broker = SqliteBroker(SqliteConfig(topic="jobs", path=db_path))
    producer = broker.producer("jobs")
    sent = [f"r{i}".encode() for i in range(5)]
    producer.publish([Record(payload) for payload in sent])
    producer.close()
    child = Child("poll-and-hang", db_path, "jobs", "g", "5", "1500")
    children.append(child)
    line = child.expect("polled")
    polled_at = time.monotonic()
    assert json.loads(line.split(" ", 1)[1]) == [p.decode() for p in sent]
    child.kill()

    survivor = broker.consumer("jobs", "g")
    assert survivor.poll(10, 0) == [], "handed out again while the lease still held"
    got = drain(survivor, len(sent), 10.0, ack=True)
    waited = time.monotonic() - polled_at

    assert sorted(payloads(got)) == sent
    assert 1.0 <= waited <= 5.0
    survivor.close()
    broker.close()


def test_two_processes_share_a_group_on_one_file(db_path: str, children: list[Child]) -> None:
    """Two consumer processes of one group split what a third process publishes, once each."""
    workers = [Child("consume", db_path, "jobs", "g") for _ in range(2)]
    children.extend(workers)
    for worker in workers:
        worker.expect("ready")
    broker = SqliteBroker(SqliteConfig(topic="jobs", path=db_path))
    producer = broker.producer("jobs")
    sent = [f"r{i:03d}" for i in range(200)]
    for start in range(0, len(sent), 10):
        producer.publish([Record(p.encode()) for p in sent[start : start + 10]])
        time.sleep(0.01)
    producer.close()
    broker.close()

    received: list[list[str]] = []
    for worker in workers:
        lines: list[str] = []
        while (line := worker.expect("")) != "done":
            lines.append(line.removeprefix("got "))
        received.append(lines)

    everything = received[0] + received[1]
    assert len(everything) == len(set(everything)), "a record went to both processes"
    assert sorted(everything) == sent
    assert all(received), f"one process got nothing: {[len(r) for r in received]}"
    assert _drain_all(db_path, "jobs", "g") == []
