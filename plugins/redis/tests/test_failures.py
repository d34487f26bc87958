"""Failures against real servers: typed errors naming broker and address, never the password."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import pytest

from jobqueue.contract import BrokerContext, Record
from jobqueue.errors import BrokerConfigError, BrokerUnavailable, PublishFailed
from jobqueue_redis import RedisBroker, RedisConfig
from jobqueue_redis.testserver import RedisServer, free_port

BrokerFactory = Callable[..., RedisBroker]
PASSWORD = "s3cret-Pa55"


@pytest.fixture(scope="module")
def auth_server() -> Iterator[RedisServer]:
    """A server that requires the password PASSWORD."""
    with RedisServer(password=PASSWORD) as server:
        yield server


def redis_broker(url: str, stream: str = "s", timeout_s: float = 2.0) -> RedisBroker:
    return RedisBroker(RedisConfig(url=url, stream=stream), BrokerContext(timeout_s=timeout_s))


def assert_names_broker_not_password(error: BrokerUnavailable, address: str) -> None:
    assert error.broker == "redis"
    assert error.address == address
    assert address in str(error)
    assert PASSWORD not in str(error)
    assert PASSWORD not in repr(error.args)


def test_password_protected_server_works_with_the_right_password(
    auth_server: RedisServer,
) -> None:
    """The password in the URL authenticates every connection the broker opens."""
    broker = redis_broker(auth_server.url)
    try:
        broker.producer("t").publish([Record(b"x")])
        consumer = broker.consumer("t", "g")
        assert [d.payload for d in consumer.poll(1, 1.0)] == [b"x"]
        consumer.close()
    finally:
        broker.close()


@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_wrong_or_missing_password_is_broker_unavailable_without_the_secret(
    auth_server: RedisServer, password: str
) -> None:
    """Bad credentials raise BrokerUnavailable that names the address and hides the password."""
    auth = f":{password}@" if password else ""
    url = f"redis://{auth}127.0.0.1:{auth_server.port}/0"
    broker = redis_broker(url)
    try:
        for operation in (
            lambda: broker.ensure_topics(["t"]),
            lambda: broker.producer("t").publish([Record(b"x")]),
            lambda: broker.consumer("t", "g").poll(1, 0.1),
        ):
            with pytest.raises(BrokerUnavailable) as info:
                operation()
            assert_names_broker_not_password(info.value, f"redis://127.0.0.1:{auth_server.port}/0")
            if password:
                assert password not in str(info.value)
    finally:
        broker.close()


def test_refused_connection_fails_fast_and_hides_the_password() -> None:
    """Nothing listening: every operation raises BrokerUnavailable at once."""
    port = free_port()
    broker = redis_broker(f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
    started = time.monotonic()
    try:
        with pytest.raises(PublishFailed) as published:
            broker.producer("t").publish([Record(b"a"), Record(b"b")])
        assert published.value.failed == [0, 1]
        assert_names_broker_not_password(published.value, f"redis://127.0.0.1:{port}/0")
        with pytest.raises(BrokerUnavailable) as ensured:
            broker.ensure_topics(["t"])
        assert_names_broker_not_password(ensured.value, f"redis://127.0.0.1:{port}/0")
        consumer = broker.consumer("t", "g")
        with pytest.raises(BrokerUnavailable):
            consumer.ack([])  # an empty ack is a no-op, even offline
            consumer.poll(1, 5.0)
        consumer.close()  # never polled successfully: nothing to hand back, no error
    finally:
        broker.close()
    assert time.monotonic() - started < 2.0


def test_unroutable_address_fails_within_timeout_s() -> None:
    """A connect that hangs is cut off after about timeout_s, as BrokerUnavailable."""
    broker = redis_broker("redis://10.255.255.1:6379/0", timeout_s=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(BrokerUnavailable) as info:
            broker.consumer("t", "g").poll(1, 0.1)
    finally:
        broker.close()
    assert time.monotonic() - started < 1.0 + 3.0
    assert info.value.address == "redis://10.255.255.1:6379/0"


def test_partial_publish_failure_lists_the_rejected_indexes(own_server: RedisServer) -> None:
    """Records the server rejects (out of memory) are listed; the others were written."""
    client = own_server.client()
    client.config_set("maxmemory-policy", "noeviction")
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", used + 300 * 1024)
    broker = redis_broker(own_server.url, stream="oom")
    records = [Record(bytes([i]) * 100 * 1024) for i in range(10)]
    try:
        with pytest.raises(PublishFailed) as info:
            broker.producer("t").publish(records)
    finally:
        broker.close()
    failed = info.value.failed
    assert failed, "some records must have been rejected"
    written = len(records) - len(failed)
    assert written > 0, "the first records fit under maxmemory"
    assert failed == list(range(written, len(records)))
    assert "maxmemory" in info.value.reason
    client.config_set("maxmemory", 0)
    entries = client.xrange("jobqueue:{oom}:t")
    assert [fields[b"payload"] for _, fields in entries] == [r.payload for r in records[:written]]


def test_poll_ack_and_publish_fail_typed_while_server_is_down_then_recover(
    own_server: RedisServer, own_brokers: BrokerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Server down: operations raise BrokerUnavailable, close only warns; all recover after."""
    broker = own_brokers()
    broker.producer("t").publish([Record(b"a"), Record(b"b")])
    consumer = broker.consumer("t", "g")
    held = consumer.poll(2, 1.0)
    own_server.stop()
    with pytest.raises(BrokerUnavailable):
        consumer.ack(held[:1])
    with pytest.raises(BrokerUnavailable):
        consumer.poll(1, 0.1)
    with caplog.at_level(logging.WARNING, logger="jobqueue_redis"):
        consumer.close()
    assert "could not hand back" in caplog.text
    assert f"127.0.0.1:{own_server.port}" in caplog.text
    own_server.start()
    again = own_brokers().consumer("t", "g", lease_ms=500)
    got: list[bytes] = []
    deadline = time.monotonic() + 10
    while len(got) < 2 and time.monotonic() < deadline:
        batch = again.poll(2, 1.0)
        got += [d.payload for d in batch]
        again.ack(batch)
    assert sorted(got) == [b"a", b"b"]  # neither ack nor hand-back reached the server


def test_instance_id_with_spaces_still_connects(redis_server: RedisServer) -> None:
    """An instance id that CLIENT SETNAME would refuse is cleaned up, not a connection error."""
    context = BrokerContext(instance_id="pod 7/zone a", timeout_s=2.0)
    broker = RedisBroker(RedisConfig(url=redis_server.url, stream="names"), context)
    try:
        broker.ensure_topics(["t"])
        names = [c["name"] for c in redis_server.client().client_list()]
        assert "jobqueue-pod_7_zone_a" in names
    finally:
        broker.close()


def test_key_of_another_type_is_a_config_error(
    broker: RedisBroker, redis_server: RedisServer, stream: str
) -> None:
    """A stream key already used by other data is reported against the `stream` field."""
    redis_server.client().set(f"jobqueue:{{{stream}}}:taken", "not a stream")
    with pytest.raises(BrokerConfigError) as info:
        broker.ensure_topics(["taken"])
    assert info.value.field == "stream"
