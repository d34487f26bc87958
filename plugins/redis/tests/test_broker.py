"""RedisBroker against a real redis-server: publish, poll, ack, leases, hand-back, trimming."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from jobqueue.contract import Delivery, Record
from jobqueue_redis import RedisBroker
from jobqueue_redis.consumer import RELEASED, RedisConsumer
from jobqueue_redis.testserver import RedisServer

BrokerFactory = Callable[..., RedisBroker]


def publish(broker: RedisBroker, topic: str, count: int, prefix: str = "m") -> list[bytes]:
    payloads = [f"{prefix}{i}".encode() for i in range(count)]
    broker.producer(topic).publish([Record(p) for p in payloads])
    return payloads


def drain(consumer: RedisConsumer, *, idle_s: float = 0.5, limit: int = 10_000) -> list[Delivery]:
    """Everything the consumer gets until a poll of ``idle_s`` comes back empty."""
    got: list[Delivery] = []
    while len(got) < limit:
        batch = consumer.poll(100, idle_s)
        if not batch:
            return got
        got.extend(batch)
    return got


def test_round_trip_keeps_payload_key_and_order(broker: RedisBroker) -> None:
    """Records come back byte for byte, with their keys, in publish order."""
    broker.ensure_topics(["t"])
    records = [Record(bytes([i, 0, 255]) * 10, key=b"k%d" % (i % 3)) for i in range(50)]
    records.append(Record(b"", key=None))
    broker.producer("t").publish(records)
    consumer = broker.consumer("t", "g")
    got = drain(consumer)
    assert [(d.payload, d.key) for d in got] == [(r.payload, r.key) for r in records]
    consumer.ack(got)


def test_one_mib_binary_payload(broker: RedisBroker) -> None:
    """A 1 MiB payload of every byte value survives the round trip."""
    payload = bytes(range(256)) * 4096
    broker.producer("t").publish([Record(payload, key=b"\x00\xff")])
    got = broker.consumer("t", "g").poll(10, 2.0)
    assert [(d.payload, d.key) for d in got] == [(payload, b"\x00\xff")]


def test_ensure_topics_is_idempotent_and_creates_empty_streams(
    broker: RedisBroker, redis_server: RedisServer, stream: str
) -> None:
    """ensure_topics creates each stream once, empty, and leaves existing entries alone."""
    client = redis_server.client()
    broker.ensure_topics(["a", "b"])
    assert client.type(f"jobqueue:{{{stream}}}:a") == b"stream"
    assert client.xlen(f"jobqueue:{{{stream}}}:a") == 0
    publish(broker, "a", 3)
    broker.ensure_topics(["a", "b"])
    assert client.xlen(f"jobqueue:{{{stream}}}:a") == 3


def test_poll_waits_at_most_timeout(broker: RedisBroker) -> None:
    """An empty topic answers after about timeout_s, not sooner and not much later."""
    consumer = broker.consumer("t", "g")
    consumer.poll(1, 0.1)  # create the group outside the measurement
    started = time.monotonic()
    assert consumer.poll(10, 1.5) == []
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 2.5, elapsed


def test_long_poll_wakes_on_publish(brokers: BrokerFactory) -> None:
    """A long poll returns as soon as a record arrives, not when its timeout ends."""
    consumer = brokers().consumer("t", "g")
    consumer.poll(1, 0.1)
    producer = brokers().producer("t")
    timer = threading.Timer(0.3, lambda: producer.publish([Record(b"late")]))
    timer.start()
    started = time.monotonic()
    got = consumer.poll(10, 10.0)
    elapsed = time.monotonic() - started
    timer.join()
    assert [d.payload for d in got] == [b"late"]
    assert elapsed < 1.5, elapsed


def test_out_of_order_acks_and_unacked_redelivered_after_close(brokers: BrokerFactory) -> None:
    """Acks in any order; what was not acked comes back at once to a new consumer."""
    broker = brokers()
    payloads = publish(broker, "t", 10)
    first = broker.consumer("t", "g", lease_ms=60_000)
    got = first.poll(10, 2.0)
    assert [d.payload for d in got] == payloads
    first.ack([got[7], got[2], got[9], got[0]])
    first.close()
    second = brokers().consumer("t", "g", lease_ms=60_000)
    started = time.monotonic()
    again = drain(second)
    assert time.monotonic() - started < 3.0
    assert sorted(d.payload for d in again) == sorted(payloads[i] for i in (1, 3, 4, 5, 6, 8))
    second.ack(again)
    assert drain(brokers().consumer("t", "g")) == []


def test_lease_expiry_hands_work_to_another_consumer(
    brokers: BrokerFactory, redis_server: RedisServer, stream: str
) -> None:
    """An entry held past lease_ms goes to another consumer; Redis keeps its delivery count."""
    broker = brokers()
    publish(broker, "t", 1)
    holder = broker.consumer("t", "g", lease_ms=1500)
    leased_at = time.monotonic()
    assert len(holder.poll(1, 1.0)) == 1
    other = brokers().consumer("t", "g", lease_ms=1500)
    assert other.poll(1, 0.2) == []  # still leased
    got = other.poll(1, 5.0)
    assert [d.payload for d in got] == [b"m0"]
    # Taken over after the lease, within one blocking slice (1 s) of it running out.
    assert 1.5 <= time.monotonic() - leased_at < 1.5 + 1.0 + 1.0
    pending = redis_server.client().xpending_range(f"jobqueue:{{{stream}}}:t", "g", "-", "+", 10)
    assert [(p["consumer"].decode(), p["times_delivered"]) for p in pending] == [(other.name, 2)]
    holder.ack(got)  # a late ack by the first holder still settles it
    assert redis_server.client().xpending(f"jobqueue:{{{stream}}}:t", "g")["pending"] == 0


def test_two_consumers_of_a_group_share_the_work(brokers: BrokerFactory) -> None:
    """Consumers of one group get disjoint records that together are everything."""
    payloads = publish(brokers(), "t", 40)
    one = brokers().consumer("t", "g")
    two = brokers().consumer("t", "g")
    a = one.poll(20, 1.0)
    b = two.poll(100, 1.0)
    assert len(a) == 20
    assert sorted(d.payload for d in a + b) == sorted(payloads)
    one.ack(a)
    two.ack(b)


def test_groups_fan_out_and_trim_waits_for_every_group(
    brokers: BrokerFactory, redis_server: RedisServer, stream: str
) -> None:
    """Two groups each get every record; entries are trimmed only once both acked them."""
    key = f"jobqueue:{{{stream}}}:t"
    client = redis_server.client()
    broker = brokers(retention_ms=0)
    broker.ensure_topics(["t"])
    fast = broker.consumer("t", "fast")
    slow = broker.consumer("t", "slow")
    assert fast.poll(1, 0.1) == [] and slow.poll(1, 0.1) == []
    payloads = publish(broker, "t", 10)

    fast_got = drain(fast)
    fast.ack(fast_got)
    assert [d.payload for d in fast_got] == payloads
    assert client.xlen(key) == 10  # "slow" has not read them yet

    slow_got = slow.poll(4, 1.0)
    slow.ack([slow_got[1], slow_got[3]])
    assert client.xlen(key) == 10  # slow's first entry is still pending
    slow.ack([slow_got[0]])
    assert client.xlen(key) == 8  # m0..m1 acked by both; m2 still pending in "slow"
    slow.ack([slow_got[2]])
    assert client.xlen(key) == 6
    rest = drain(slow)
    assert [d.payload for d in rest] == payloads[4:]
    slow.ack(rest)
    assert client.xlen(key) == 0


def test_acked_entries_do_not_pile_up(
    brokers: BrokerFactory, redis_server: RedisServer, stream: str
) -> None:
    """With retention 0, once everything is acked the stream is empty and nothing is pending."""
    broker = brokers(retention_ms=0)
    publish(broker, "t", 300)
    consumer = broker.consumer("t", "g")
    got = drain(consumer)
    assert len(got) == 300
    consumer.ack(got[::2])
    consumer.ack(got[1::2])
    client = redis_server.client()
    assert client.xlen(f"jobqueue:{{{stream}}}:t") == 0
    assert client.xpending(f"jobqueue:{{{stream}}}:t", "g")["pending"] == 0


def test_acked_entries_stay_for_the_retention_then_go(
    brokers: BrokerFactory, redis_server: RedisServer, stream: str
) -> None:
    """Acked entries stay readable by a later group for retention_ms, then an ack trims them."""
    key = f"jobqueue:{{{stream}}}:t"
    client = redis_server.client()
    broker = brokers(retention_ms=1000)
    publish(broker, "t", 2)
    early = broker.consumer("t", "early")
    first, second = early.poll(2, 1.0)
    early.ack([first])
    assert client.xlen(key) == 2
    late = broker.consumer("t", "late")
    late_got = drain(late)
    assert [d.payload for d in late_got] == [b"m0", b"m1"]
    late.ack(late_got)
    time.sleep(1.1)
    early.ack([second])
    assert client.xlen(key) == 0


def test_idle_consumer_trims_acked_entries_once_retention_passed(
    brokers: BrokerFactory, redis_server: RedisServer, stream: str
) -> None:
    """Entries acked at the end of a burst go away while the consumer idles, with no new ack."""
    key = f"jobqueue:{{{stream}}}:t"
    broker = brokers(retention_ms=1000)
    publish(broker, "t", 5)
    consumer = broker.consumer("t", "g")
    consumer.ack(drain(consumer, idle_s=0.1))
    client = redis_server.client()
    assert client.xlen(key) == 5
    assert consumer.poll(1, 2.5) == []
    assert client.xlen(key) == 0


def test_close_deletes_consumer_and_hands_back_via_placeholder(
    brokers: BrokerFactory, redis_server: RedisServer, stream: str
) -> None:
    """A closed consumer leaves the group; its un-acked entries wait, idle, in the placeholder."""
    broker = brokers()
    publish(broker, "t", 3)
    consumer = broker.consumer("t", "g", lease_ms=60_000)
    consumer.ack(consumer.poll(1, 1.0))
    consumer.poll(5, 1.0)
    consumer.close()
    consumers = redis_server.client().xinfo_consumers(f"jobqueue:{{{stream}}}:t", "g")
    assert {c["name"].decode(): c["pending"] for c in consumers} == {RELEASED: 2}


def test_same_instance_id_gets_own_pending_back_at_once(
    brokers: BrokerFactory, redis_server: RedisServer, stream: str
) -> None:
    """A consumer re-created under its old name (a restarted process) re-reads what it held."""
    broker = brokers()
    publish(broker, "t", 5)
    crashed = broker.consumer("t", "g", lease_ms=60_000)
    held = crashed.poll(3, 1.0)
    # Simulate the restarted process: a new consumer object answering to the same name.
    revived = broker.consumer("t", "g", lease_ms=60_000)
    revived.name = crashed.name
    got = revived.poll(10, 1.0)
    assert [d.payload for d in got] == [d.payload for d in held]
    assert [d.payload for d in revived.poll(10, 1.0)] == [b"m3", b"m4"]


def test_maxlen_caps_the_stream(
    brokers: BrokerFactory, redis_server: RedisServer, stream: str
) -> None:
    """With maxlen set, XADD trims approximately: the stream stays near the cap."""
    broker = brokers(maxlen=100)
    for _ in range(10):
        publish(broker, "t", 100)
    length = redis_server.client().xlen(f"jobqueue:{{{stream}}}:t")
    assert 100 <= length < 300, length


def test_consumer_survives_a_deleted_stream(
    broker: RedisBroker, redis_server: RedisServer, stream: str
) -> None:
    """If the stream (and its group) disappears, the consumer re-creates them and carries on."""
    consumer = broker.consumer("t", "g")
    publish(broker, "t", 1)
    consumer.ack(consumer.poll(1, 1.0))
    redis_server.client().delete(f"jobqueue:{{{stream}}}:t")
    publish(broker, "t", 1, prefix="after")
    assert [d.payload for d in consumer.poll(1, 1.0)] == [b"after0"]


def test_concurrent_consumers_across_threads(brokers: BrokerFactory) -> None:
    """Four consumers of one broker in four threads get every record exactly once."""
    broker = brokers()
    payloads = publish(broker, "t", 400)
    results: list[list[bytes]] = [[] for _ in range(4)]

    def work(index: int) -> None:
        consumer = broker.consumer("t", "g")
        while True:
            batch = consumer.poll(7, 0.5)
            if not batch:
                consumer.close()
                return
            results[index].extend(d.payload for d in batch)
            consumer.ack(batch)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    everything = [p for r in results for p in r]
    assert sorted(everything) == sorted(payloads)


def test_pending_entries_trimmed_away_are_dropped_not_delivered(
    brokers: BrokerFactory, redis_server: RedisServer, stream: str
) -> None:
    """Pending entries whose data is gone (e.g. maxlen) are cleared from the group, not sent."""
    key = f"jobqueue:{{{stream}}}:t"
    broker = brokers()
    publish(broker, "t", 4)
    crashed = broker.consumer("t", "g", lease_ms=60_000)
    assert len(crashed.poll(2, 1.0)) == 2
    claimer = broker.consumer("t", "g", lease_ms=60_000)
    assert len(claimer.poll(1, 1.0)) == 1
    client = redis_server.client()
    client.xtrim(key, maxlen=0, approximate=False)
    assert client.xpending(key, "g")["pending"] == 3

    revived = broker.consumer("t", "g", lease_ms=60_000)
    revived.name = crashed.name  # re-reads its own pending entries first
    assert revived.poll(10, 0.2) == []
    other = broker.consumer("t", "g", lease_ms=1)  # claims the claimer's entry at once
    time.sleep(0.01)
    assert other.poll(10, 0.2) == []
    assert client.xpending(key, "g")["pending"] == 0
