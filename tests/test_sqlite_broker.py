"""Behaviour of the embedded SQLite broker beyond the conformance suite (one process)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobqueue.brokers.sqlite import MAX_PAYLOAD_BYTES, SqliteBroker, SqliteConfig
from jobqueue.brokers.sqlite import leases as leases_module
from jobqueue.contract import BrokerContext, Record
from jobqueue.errors import BrokerConfigError, BrokerUnavailable, PublishFailed
from jobqueue.plugins import load_brokers
from jobqueue.testing import drain, payloads


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "broker.db")


@pytest.fixture
def broker(db_path: str) -> Iterator[SqliteBroker]:
    broker = SqliteBroker(SqliteConfig(topic="jobs", path=db_path))
    yield broker
    broker.close()


def _count(path: str, sql: str) -> int:
    with sqlite3.connect(path) as conn:
        (value,) = conn.execute(sql).fetchone()
    conn.close()
    return int(value)


# -- registration and config ---------------------------------------------------------------


def test_registered_through_the_entry_point() -> None:
    """The `jobqueue` entry point registers SqliteBroker under the name "sqlite"."""
    registry = load_brokers()
    assert registry.get("sqlite") is SqliteBroker
    assert registry.brokers["sqlite"].distribution == "jobqueue"


def test_parse_config_accepts_topic_and_path() -> None:
    """A config with a topic (and optionally a path) parses; main_topic and address follow."""
    config = SqliteBroker.parse_config({"topic": "orders.v1_retry-0", "path": "/tmp/q.db"})
    assert isinstance(config, SqliteConfig)
    assert config.main_topic() == "orders.v1_retry-0"
    assert config.address() == "/tmp/q.db"
    assert SqliteBroker.parse_config({"topic": "t"}).address() == "<data_dir>/broker.db"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "topic"),
        ({"topic": ""}, "topic"),
        ({"topic": "has space"}, "topic"),
        ({"topic": "x" * 250}, "topic"),
        ({"topic": 7}, "topic"),
        ({"topic": "t", "path": ""}, "path"),
        ({"topic": "t", "path": "   "}, "path"),
        ({"topic": "t", "path": ":memory:"}, "path"),
        ({"topic": "t", "path": 3}, "path"),
        ({"topic": "t", "cluster_address": ["x"]}, "cluster_address"),
    ],
)
def test_parse_config_errors_name_the_field(raw: dict[str, object], field: str) -> None:
    """Each invalid config raises BrokerConfigError naming the offending field."""
    with pytest.raises(BrokerConfigError) as raised:
        load_brokers().parse_config("sqlite", raw)
    assert raised.value.field == field
    assert raised.value.broker == "sqlite"
    assert f"`{field}`" in str(raised.value)


def test_invalid_topic_of_a_producer_or_consumer_is_a_config_error(broker: SqliteBroker) -> None:
    """Topic names outside the safe charset are refused before anything is written."""
    for make in (
        lambda: broker.producer("bad/topic"),
        lambda: broker.consumer("bad topic", "g"),
        lambda: broker.ensure_topics(["ok", "no;pe"]),
    ):
        with pytest.raises(BrokerConfigError) as raised:
            make()
        assert raised.value.field == "topic"


def test_default_path_is_in_the_data_dir(tmp_path: Path) -> None:
    """Without ``path`` the file is ``<data_dir>/broker.db``, created on first use."""
    data_dir = tmp_path / "data"
    broker = SqliteBroker(SqliteConfig(topic="t"), BrokerContext(data_dir=str(data_dir)))
    try:
        broker.ensure_topics(["t"])
    finally:
        broker.close()
    assert broker.path == str(data_dir / "broker.db")
    assert (data_dir / "broker.db").is_file()


def test_file_uses_wal_mode(broker: SqliteBroker, db_path: str) -> None:
    """The broker switches the file to WAL so readers and writers don't block each other."""
    broker.ensure_topics(["jobs"])
    with sqlite3.connect(db_path) as conn:
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    conn.close()
    assert mode == "wal"


# -- unavailable files ---------------------------------------------------------------------


def test_unopenable_path_raises_broker_unavailable_naming_it(tmp_path: Path) -> None:
    """A path under a regular file cannot be created: BrokerUnavailable names the path."""
    (tmp_path / "file").write_text("")
    path = str(tmp_path / "file" / "dir" / "broker.db")
    broker = SqliteBroker(SqliteConfig(topic="t", path=path))
    with pytest.raises(BrokerUnavailable) as raised:
        broker.producer("t")
    assert raised.value.address == path
    assert path in str(raised.value)
    assert str(raised.value).startswith("sqlite broker at ")


def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    """A file with other content is refused with BrokerUnavailable, not a sqlite3 error."""
    path = tmp_path / "broker.db"
    path.write_bytes(b"this is not an SQLite database at all" * 100)
    broker = SqliteBroker(SqliteConfig(topic="t", path=str(path)))
    with pytest.raises(BrokerUnavailable) as raised:
        broker.consumer("t", "g")
    assert str(path) in str(raised.value)


def test_a_file_from_a_newer_schema_is_refused(db_path: str) -> None:
    """A file whose schema version is newer than this code is refused, not misread."""
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    broker = SqliteBroker(SqliteConfig(topic="t", path=db_path))
    with pytest.raises(BrokerUnavailable, match="schema version 99"):
        broker.producer("t")


def test_a_locked_file_fails_publish_within_the_timeout(db_path: str) -> None:
    """While another connection holds the write lock, publish fails after about timeout_s."""
    broker = SqliteBroker(SqliteConfig(topic="t", path=db_path), BrokerContext(timeout_s=0.5))
    producer = broker.producer("t")
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(PublishFailed) as raised:
            producer.publish([Record(b"a"), Record(b"b")])
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert raised.value.failed == [0, 1]
    assert "locked" in raised.value.reason
    assert 0.4 <= elapsed <= 3.0
    producer.publish([Record(b"c")])  # usable again once the lock is gone
    producer.close()
    broker.close()


# -- publish -------------------------------------------------------------------------------


def test_oversized_record_fails_the_whole_batch(broker: SqliteBroker, db_path: str) -> None:
    """A record over the declared limit fails the batch atomically, naming it; nothing lands."""
    producer = broker.producer("jobs")
    big = b"\0" * (MAX_PAYLOAD_BYTES + 1)
    with pytest.raises(PublishFailed) as raised:
        producer.publish([Record(b"small"), Record(big), Record(b"small too")])
    producer.close()
    assert raised.value.failed == [0, 1, 2]
    assert "record(s) 1 larger than" in raised.value.reason
    assert _count(db_path, "SELECT COUNT(*) FROM records") == 0


def test_publish_after_close_is_typed(broker: SqliteBroker) -> None:
    """Publishing through a closed producer raises PublishFailed, not a sqlite3 error."""
    producer = broker.producer("jobs")
    producer.close()
    with pytest.raises(PublishFailed, match="producer is closed"):
        producer.publish([Record(b"x")])


def test_payload_at_the_declared_limit_round_trips(broker: SqliteBroker) -> None:
    """A payload of exactly max_payload_bytes is accepted and read back intact."""
    payload = bytes(range(256)) * (MAX_PAYLOAD_BYTES // 256)
    producer = broker.producer("jobs")
    producer.publish([Record(payload, b"k")])
    producer.close()
    consumer = broker.consumer("jobs", "g")
    got = drain(consumer, 1, 5.0, ack=True)
    consumer.close()
    assert len(got) == 1
    assert got[0].payload == payload


# -- leases, ordering, groups --------------------------------------------------------------


def test_a_busy_key_is_held_back_while_other_keys_flow(broker: SqliteBroker) -> None:
    """While a key's record is leased, later records of that key wait; other keys don't."""
    producer = broker.producer("jobs")
    producer.publish([Record(b"a1", b"a"), Record(b"a2", b"a"), Record(b"b1", b"b"), Record(b"n1")])
    producer.close()
    first = broker.consumer("jobs", "g")
    second = broker.consumer("jobs", "g")
    assert payloads(first.poll(1, 1.0)) == [b"a1"]
    assert payloads(second.poll(10, 0.2)) == [b"b1", b"n1"]
    assert second.poll(10, 0.2) == []  # a2 waits for a1
    assert first.poll(10, 0.2) == []  # also for the consumer holding a1

    waiting: list[bytes] = []
    thread = threading.Thread(target=lambda: waiting.extend(payloads(second.poll(10, 5.0))))
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    first.close()  # releases a1: it comes back first, then a2
    thread.join()
    assert waiting == [b"a1", b"a2"]
    assert time.monotonic() - started < 2.0
    second.close()


def test_expired_lease_is_reclaimed_in_key_order(broker: SqliteBroker) -> None:
    """After a lease runs out, its record and the key's later ones come back in order."""
    producer = broker.producer("jobs")
    producer.publish([Record(b"k1", b"k"), Record(b"k2", b"k"), Record(b"k3", b"k")])
    producer.close()
    slow = broker.consumer("jobs", "g", lease_ms=500)
    other = broker.consumer("jobs", "g", lease_ms=30_000)
    before_lease = time.monotonic()
    assert payloads(slow.poll(1, 1.0)) == [b"k1"]
    assert other.poll(10, 0) == []
    got = other.poll(10, 5.0)
    since_lease = time.monotonic() - before_lease
    assert payloads(got) == [b"k1", b"k2", b"k3"]
    assert 0.45 <= since_lease <= 2.0
    slow.close()
    other.close()


def test_parked_records_are_bounded(
    broker: SqliteBroker, db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_PARKED held-back records a group stops reading ahead instead of growing."""
    monkeypatch.setattr(leases_module, "MAX_PARKED", 2)
    producer = broker.producer("jobs")
    hot = [f"h{i}".encode() for i in range(5)]
    producer.publish([Record(h, b"hot") for h in hot] + [Record(b"cold", b"cold")])
    producer.close()
    holder = broker.consumer("jobs", "g")
    reader = broker.consumer("jobs", "g")
    held = holder.poll(1, 1.0)
    assert payloads(held) == [b"h0"]

    assert reader.poll(10, 0.1) == []  # h1, h2 parked; h3 over budget, so "cold" not reached
    assert _count(db_path, "SELECT COUNT(*) FROM leases WHERE owner IS NULL") == 2

    holder.ack(held)
    got = drain(reader, 5, 5.0, ack=True)
    assert payloads(got) == [*hot[1:], b"cold"]
    holder.close()
    reader.close()


def test_ack_of_a_foreign_delivery_is_refused(broker: SqliteBroker) -> None:
    """A delivery of another group cannot be acked by this consumer (ValueError)."""
    producer = broker.producer("jobs")
    producer.publish([Record(b"x")])
    producer.close()
    mine = broker.consumer("jobs", "g1")
    theirs = broker.consumer("jobs", "g2")
    delivery = drain(theirs, 1, 5.0)
    with pytest.raises(ValueError, match="group 'g1'"):
        mine.ack(delivery)
    theirs.ack(delivery)
    mine.close()
    theirs.close()


def test_new_group_reads_from_the_oldest_retained_record(broker: SqliteBroker) -> None:
    """A group created after records were published still reads all of them."""
    producer = broker.producer("jobs")
    producer.publish([Record(f"r{i}".encode()) for i in range(5)])
    early = broker.consumer("jobs", "early")
    assert len(drain(early, 5, 5.0, ack=True)) == 5
    late = broker.consumer("jobs", "late")
    got = drain(late, 5, 5.0, ack=True)
    assert sorted(payloads(got)) == [f"r{i}".encode() for i in range(5)]
    for closable in (producer, early, late):
        closable.close()


# -- polling -------------------------------------------------------------------------------


def test_close_from_another_thread_ends_a_waiting_poll(broker: SqliteBroker) -> None:
    """close() wakes a poll waiting on another thread; the poll returns [] promptly."""
    consumer = broker.consumer("jobs", "g")
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(consumer.poll(10, 30.0)))
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    consumer.close()
    thread.join(timeout=5.0)
    assert not thread.is_alive()
    assert result == [[]]
    assert time.monotonic() - started < 1.0
    with pytest.raises(BrokerUnavailable, match="consumer is closed"):
        consumer.poll(1, 0)


def test_idle_poll_uses_little_cpu(broker: SqliteBroker) -> None:
    """A poll waiting 2 s on an empty topic costs well under 10% of a core."""
    consumer = broker.consumer("jobs", "g")
    cpu_before = time.process_time()
    assert consumer.poll(10, 2.0) == []
    cpu = time.process_time() - cpu_before
    consumer.close()
    assert cpu < 0.2, f"idle poll used {cpu:.3f}s of CPU in 2s"


def test_max_records_must_be_positive(broker: SqliteBroker) -> None:
    """poll(0, ...) is a caller bug and says so."""
    consumer = broker.consumer("jobs", "g")
    with pytest.raises(ValueError, match="max_records"):
        consumer.poll(0, 0)
    consumer.close()


def test_lease_ms_must_be_positive(broker: SqliteBroker) -> None:
    """A consumer with lease_ms < 1 is refused naming the parameter."""
    with pytest.raises(BrokerConfigError) as raised:
        broker.consumer("jobs", "g", lease_ms=0)
    assert raised.value.field == "lease_ms"


# -- retention -----------------------------------------------------------------------------


def test_records_acked_by_every_group_are_deleted(
    broker: SqliteBroker, db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once every group that reads a topic acked a record, its row is deleted."""
    from jobqueue.brokers.sqlite import consumer as consumer_module

    monkeypatch.setattr(consumer_module, "RETIRE_EVERY_S", 0.0)
    producer = broker.producer("jobs")
    producer.publish([Record(f"r{i}".encode()) for i in range(20)])
    producer.close()
    fast = broker.consumer("jobs", "fast")
    slow = broker.consumer("jobs", "slow")
    drain(fast, 20, 5.0, ack=True)
    assert _count(db_path, "SELECT COUNT(*) FROM records") == 20  # "slow" still needs them

    got = drain(slow, 20, 5.0)
    slow.ack(got[5:])  # r0..r4 un-acked: r0 pins everything after it
    assert _count(db_path, "SELECT COUNT(*) FROM records") == 20
    slow.ack(got[:5])
    assert _count(db_path, "SELECT COUNT(*) FROM records") == 0
    assert _count(db_path, "SELECT COUNT(*) FROM leases") == 0
    fast.close()
    slow.close()


def test_retention_is_per_topic(
    broker: SqliteBroker, db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acks on one topic delete only its records; a topic nobody reads keeps all of its own."""
    from jobqueue.brokers.sqlite import consumer as consumer_module

    monkeypatch.setattr(consumer_module, "RETIRE_EVERY_S", 0.0)
    producer = broker.producer("jobs")
    producer.publish([Record(b"kept")])
    producer.close()
    other = broker.producer("other")
    other.publish([Record(b"gone")])
    other.close()
    consumer = broker.consumer("other", "g")
    assert payloads(drain(consumer, 1, 5.0, ack=True)) == [b"gone"]
    consumer.close()
    assert _count(db_path, "SELECT COUNT(*) FROM records") == 1
    late = broker.consumer("jobs", "first-reader")
    assert payloads(drain(late, 1, 5.0, ack=True)) == [b"kept"]
    late.close()
