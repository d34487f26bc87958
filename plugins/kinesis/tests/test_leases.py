"""Shard leases between consumers of one group: sharing, handoff, release, crash, takeover."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from jobqueue.contract import Delivery, Record
from jobqueue.testing import collect_for, drain, payloads
from jobqueue_kinesis import KinesisBroker
from jobqueue_kinesis.consumer import KinesisConsumer
from jobqueue_kinesis.testserver import MotoEndpoint

BrokerFactory = Callable[..., KinesisBroker]
HOLDER = Path(__file__).with_name("holder_process.py")
GROUP = "workers"


def _records(prefix: str, count: int) -> list[Record]:
    """Distinct keys, so that the records spread over every shard."""
    return [
        Record(f"{prefix}-{i:04d}".encode(), key=f"key-{prefix}-{i}".encode()) for i in range(count)
    ]


def _publish(broker: KinesisBroker, stream: str, records: list[Record]) -> list[bytes]:
    producer = broker.producer(stream)
    producer.publish(records)
    producer.close()
    return [record.payload for record in records]


def _poll_both(
    consumers: list[KinesisConsumer],
    until: Callable[[], bool],
    deadline_s: float,
    received: list[list[bytes]] | None = None,
) -> None:
    """Poll the consumers in turn, acking everything, until ``until()`` or the deadline."""
    deadline = time.monotonic() + deadline_s
    while not until():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        for index, consumer in enumerate(consumers):
            batch = consumer.poll(100, 0.1)
            consumer.ack(batch)
            if received is not None:
                received[index].extend(payloads(batch))


def _split(consumers: list[KinesisConsumer], shards: int) -> Callable[[], bool]:
    share = shards // len(consumers)
    return lambda: all(len(c.held_shards) == share for c in consumers)


def test_two_consumers_split_a_four_shard_stream(brokers: BrokerFactory, stream: str) -> None:
    """Each of two consumers ends up with two shards; together they read every record once."""
    broker = brokers(shard_count=4)
    broker.ensure_topics([stream])
    consumers = [broker.consumer(stream, GROUP, lease_ms=3000) for _ in range(2)]
    sent = _publish(broker, stream, _records("rec", 200))
    received: list[list[bytes]] = [[], []]

    _poll_both(consumers, lambda: sum(map(len, received)) >= len(sent), 30.0, received)
    _poll_both(consumers, _split(consumers, 4), 20.0, received)
    late = _publish(broker, stream, _records("late", 100))
    _poll_both(consumers, lambda: sum(map(len, received)) >= len(sent) + len(late), 30.0, received)

    everything = received[0] + received[1]
    assert [p for p, n in Counter(everything).items() if n > 1] == []
    assert sorted(everything) == sorted(sent + late)
    assert set(consumers[0].held_shards).isdisjoint(consumers[1].held_shards)
    assert len(consumers[0].held_shards + consumers[1].held_shards) == 4
    late_split = [sum(p.startswith(b"late") for p in received[i]) for i in range(2)]
    assert min(late_split) > 0, f"one consumer read all the late records: {late_split}"
    for consumer in consumers:
        consumer.close()


def test_handoff_waits_for_the_owners_acks(brokers: BrokerFactory, stream: str) -> None:
    """A busier owner hands a shard over only once its deliveries from it are acked."""
    broker = brokers(shard_count=4)
    broker.ensure_topics([stream])
    sent = _publish(broker, stream, _records("rec", 40))
    owner = broker.consumer(stream, GROUP, lease_ms=10_000)
    held = drain(owner, len(sent), 20.0)
    assert sorted(payloads(held)) == sorted(sent)
    assert len(owner.held_shards) == 4
    newcomer = brokers().consumer(stream, GROUP, lease_ms=10_000)

    waiting: list[Delivery] = []
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        waiting += newcomer.poll(100, 0.1)
        assert owner.poll(100, 0.1) == []
    assert waiting == [] and newcomer.held_shards == []
    assert len(owner.held_shards) == 4, "a shard with un-acked deliveries was handed over"

    owner.ack(held)
    _poll_both([owner, newcomer], _split([owner, newcomer], 4), 20.0)
    assert collect_for(newcomer, 1.0) == []  # nothing the owner acked comes back


def test_close_releases_leases_at_once(brokers: BrokerFactory, stream: str) -> None:
    """A closed consumer's shards go to the next consumer long before its leases would expire."""
    broker = brokers(shard_count=4)
    broker.ensure_topics([stream])
    sent = _publish(broker, stream, _records("rec", 20))
    first = broker.consumer(stream, GROUP, lease_ms=60_000)
    assert len(drain(first, len(sent), 20.0)) == len(sent)
    first.close()

    started = time.monotonic()
    second = brokers().consumer(stream, GROUP, lease_ms=60_000)
    again = drain(second, len(sent), 20.0, ack=True)

    assert sorted(payloads(again)) == sorted(sent)
    assert time.monotonic() - started < 5.0
    assert len(second.held_shards) == 4


def test_acks_after_losing_the_lease_are_ignored(brokers: BrokerFactory, stream: str) -> None:
    """A consumer that stopped polling loses its shard; its late acks do not checkpoint."""
    broker = brokers(shard_count=1)
    broker.ensure_topics([stream])
    sent = _publish(broker, stream, _records("rec", 5))
    slow = broker.consumer(stream, GROUP, lease_ms=1000)
    held = drain(slow, len(sent), 20.0)
    assert len(held) == len(sent)
    other = brokers().consumer(stream, GROUP, lease_ms=1000)
    assert sorted(payloads(drain(other, len(sent), 20.0))) == sorted(sent)

    slow.ack(held)  # too late: the lease is other's now
    assert slow.poll(10, 0.5) == []
    other.close()

    third = brokers().consumer(stream, GROUP, lease_ms=1000)
    assert sorted(payloads(drain(third, len(sent), 20.0, ack=True))) == sorted(sent)


def test_checkpoint_and_acked_runs_in_the_lease_table(brokers: BrokerFactory, stream: str) -> None:
    """The lease item holds the contiguous acked prefix and the runs acked past it."""
    broker = brokers(shard_count=1)
    broker.ensure_topics([stream])
    _publish(broker, stream, [Record(f"r{i}".encode(), key=b"k") for i in range(6)])
    consumer = broker.consumer(stream, GROUP)
    got = drain(consumer, 6, 20.0)
    sequences = [d.handle.sequence for d in got]
    consumer.ack([got[0], got[2], got[3], got[5]])

    item = broker.clients.dynamodb.get_item(
        TableName=broker.settings.lease_table_name(),
        Key={"lease_scope": {"S": f"{GROUP}:{stream}"}, "shard_id": {"S": got[0].handle.shard_id}},
        ConsistentRead=True,
    )["Item"]
    assert item["checkpoint"]["S"] == sequences[0]
    assert item["acked_runs"]["S"] == f"{sequences[2]}-{sequences[3]},{sequences[5]}-{sequences[5]}"
    assert item["lease_owner"]["S"] == consumer.owner
    consumer.close()


class _Lines:
    """Lines of a process's stdout, collected by a thread so that reads never block."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def payloads(self, verdict: str) -> list[bytes]:
        return [
            bytes.fromhex(line.split()[1]) for line in self.snapshot() if line.startswith(verdict)
        ]

    def shards(self) -> list[str]:
        last = [line for line in self.snapshot() if line.startswith("SHARDS")][-1:]
        return [s for s in last[0].split(" ", 1)[1].split(",") if s] if last else []


@contextmanager
def _holder(
    moto: MotoEndpoint, stream: str, lease_ms: int
) -> Iterator[tuple[subprocess.Popen[str], _Lines]]:
    args = [sys.executable, str(HOLDER), moto.url, stream, GROUP, str(lease_ms)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        yield process, _Lines(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


def test_a_crashed_consumer_is_replaced_from_its_checkpoint(
    moto: MotoEndpoint, brokers: BrokerFactory, stream: str
) -> None:
    """SIGKILL one of two consumers: after its leases expire the other reads its shards on
    from the checkpoints, getting exactly what the dead one had not acked, and what follows."""
    lease_ms = 2000
    broker = brokers(shard_count=4)
    broker.ensure_topics([stream])
    survivor = broker.consumer(stream, GROUP, lease_ms=lease_ms)
    received: list[list[bytes]] = [[]]
    with _holder(moto, stream, lease_ms) as (process, lines):
        _poll_both(
            [survivor],
            lambda: len(survivor.held_shards) == 2 and len(lines.shards()) == 2,
            30.0,
            received,
        )
        sent = _publish(broker, stream, _records("rec", 60))

        def settled() -> bool:
            seen = len(received[0]) + len(lines.payloads("ACKED") + lines.payloads("KEPT"))
            return seen >= len(sent)

        _poll_both([survivor], settled, 30.0, received)
        acked, kept = lines.payloads("ACKED"), lines.payloads("KEPT")
        assert acked and kept, "the holder must have acked some records and kept others"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        killed_at = time.monotonic()

    before = list(received[0])
    after: list[bytes] = []
    while not set(kept) <= set(after):
        assert time.monotonic() - killed_at < 30.0, "the dead consumer's records never came back"
        batch = survivor.poll(100, 0.2)
        if batch and not after:
            took_over_after = time.monotonic() - killed_at
        survivor.ack(batch)
        after += payloads(batch)
    late = _publish(broker, stream, _records("late", 40))
    after += payloads(drain(survivor, len(late), 20.0, ack=True))
    after += payloads(collect_for(survivor, 1.0, ack=True))

    assert sorted(before + acked + kept) == sorted(sent)
    assert sorted(after) == sorted(kept + late), "lost or redelivered acked records"
    assert took_over_after >= lease_ms / 1000 * 0.5, "took the shards before the leases expired"
    assert len(survivor.held_shards) == 4
    survivor.close()
