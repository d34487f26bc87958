"""Crashes for real: a consumer process SIGKILLed with pending entries, a server SIGKILLed."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobqueue.contract import Delivery, Record
from jobqueue.errors import BrokerUnavailable
from jobqueue_redis import RedisBroker
from jobqueue_redis.testserver import RedisServer

BrokerFactory = Callable[..., RedisBroker]
HOLDER = Path(__file__).with_name("holder_process.py")


@dataclass
class Holder:
    process: subprocess.Popen[bytes]
    started_at: float  # wall clock, just before its first poll
    held: list[bytes]


@contextmanager
def holder(server: RedisServer, stream: str, count: int, instance_id: str) -> Iterator[Holder]:
    """A consumer process of group ``g`` on topic ``t`` that holds ``count`` records un-acked."""
    args = [sys.executable, str(HOLDER), server.url, stream, "t", "g", str(count), instance_id]
    process = subprocess.Popen(args, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        lines = _read_until(process, "HOLDING", timeout_s=40)
        started_at = float(lines[0].split()[1])
        yield Holder(process, started_at, [bytes.fromhex(line) for line in lines[1:-1]])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _read_until(process: subprocess.Popen[bytes], last: str, timeout_s: float) -> list[str]:
    """The process's output lines up to and including ``last`` (raw reads: select-safe)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout_s
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            lines = buffer.decode().splitlines()
            if last in lines:
                return lines[: lines.index(last) + 1]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                pytest.fail(f"holder process printed {lines!r}, never {last!r}")
            chunk = os.read(fd, 65536)
            if not chunk:
                pytest.fail(f"holder process exited ({process.wait()}) after {lines!r}")
            buffer += chunk


def collect(
    consumer_poll: Callable[[], list[Delivery]], want: int, timeout_s: float
) -> list[tuple[float, Delivery]]:
    """Deliveries with their arrival time (wall clock) until ``want`` arrived or time ran out."""
    got: list[tuple[float, Delivery]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        got.extend((time.time(), d) for d in consumer_poll())
    return got


def test_killed_consumer_entries_go_to_another_after_idle_time(
    brokers: BrokerFactory, redis_server: RedisServer, stream: str
) -> None:
    """A SIGKILLed consumer's pending entries reach another consumer once idle for its lease."""
    lease_ms = 1500
    broker = brokers(retention_ms=0)
    payloads = [b"m%d" % i for i in range(30)]
    broker.producer("t").publish([Record(p) for p in payloads])

    with holder(redis_server, stream, 10, f"doomed-{uuid.uuid4().hex[:6]}") as dead:
        assert dead.held == payloads[:10]
        os.kill(dead.process.pid, signal.SIGKILL)
        dead.process.wait(timeout=10)
        held_until = time.time()

    survivor = broker.consumer("t", "g", lease_ms=lease_ms)
    got = collect(lambda: survivor.poll(10, 0.5), want=30, timeout_s=15)
    arrived = {d.payload: at for at, d in got}
    assert sorted(d.payload for _, d in got) == sorted(payloads), "lost or duplicated records"
    for payload in dead.held:
        # Not before the lease ran out (counted from before the holder's read), but soon after.
        assert arrived[payload] >= dead.started_at + lease_ms / 1000
        assert arrived[payload] <= held_until + lease_ms / 1000 + 3.0
    assert max(arrived[p] for p in payloads[10:]) < min(arrived[p] for p in dead.held)

    key = f"jobqueue:{{{stream}}}:t"
    client = redis_server.client()
    pending = client.xpending_range(key, "g", "-", "+", 100)
    delivered = {p["message_id"]: p["times_delivered"] for p in pending}
    by_payload = {d.payload: delivered[d.handle] for _, d in got}
    assert all(by_payload[p] == 2 for p in dead.held), by_payload
    assert all(by_payload[p] == 1 for p in payloads[10:]), by_payload

    survivor.ack([d for _, d in got])
    assert client.xpending(key, "g")["pending"] == 0
    assert client.xlen(key) == 0


def test_restarted_process_with_same_instance_id_takes_its_entries_back_at_once(
    brokers: BrokerFactory, redis_server: RedisServer, stream: str
) -> None:
    """A process restarted under the same instance id re-reads its own pending entries first."""
    brokers().producer("t").publish([Record(b"m%d" % i) for i in range(10)])
    instance = f"pod-{uuid.uuid4().hex[:6]}"
    with holder(redis_server, stream, 4, instance) as first:
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
    started = time.monotonic()
    with holder(redis_server, stream, 4, instance) as second:
        assert second.held == first.held  # its own entries, long before any lease ran out
        assert time.monotonic() - started < 20


@pytest.mark.parametrize("kill", [True, False], ids=["sigkill", "sigterm"])
def test_server_restart_with_aof_keeps_acks_and_unacked(
    own_server: RedisServer, own_brokers: BrokerFactory, kill: bool
) -> None:
    """redis-server restarted mid-stream: no acked record reappears, no un-acked one is lost."""
    broker = own_brokers(retention_ms=0)
    producer = broker.producer("t")
    payloads = [b"m%03d" % i for i in range(100)]
    for start in range(0, 100, 10):
        producer.publish([Record(p) for p in payloads[start : start + 10]])

    consumer = broker.consumer("t", "g", lease_ms=60_000)
    polled: list[Delivery] = []
    while len(polled) < 60:
        polled.extend(consumer.poll(60 - len(polled), 2.0))
    acked = polled[1::3] + polled[0::3]  # 40 acks, out of order; 20 polled and left un-acked
    consumer.ack(acked[:25])
    consumer.ack(acked[25:])

    own_server.stop(kill=kill)
    with pytest.raises(BrokerUnavailable):
        producer.publish([Record(b"while-down")])
    with pytest.raises(BrokerUnavailable):
        consumer.poll(1, 0.1)
    own_server.start()

    late = [b"late%d" % i for i in range(20)]
    producer.publish([Record(p) for p in late])  # the same broker reconnects by itself
    consumer.close()  # hands its 20 un-acked entries back to the group

    fresh = own_brokers(retention_ms=0).consumer("t", "g", lease_ms=60_000)
    got: list[Delivery] = []
    while batch := fresh.poll(50, 1.0):
        got.extend(batch)
    acked_payloads = {d.payload for d in acked}
    received = [d.payload for d in got]
    assert not acked_payloads & set(received), "acked records came back after the restart"
    expected = (set(payloads) - acked_payloads) | set(late)
    assert sorted(received) == sorted(expected)
    fresh.ack(got)
    client = own_server.client()
    assert client.xlen(broker.config.key("t")) == 0  # type: ignore[attr-defined]
