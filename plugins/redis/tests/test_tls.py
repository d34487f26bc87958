"""rediss:// against a real TLS-only redis-server with a self-signed certificate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobqueue.contract import BrokerContext, Record
from jobqueue.errors import BrokerUnavailable
from jobqueue_redis import RedisBroker, RedisConfig
from jobqueue_redis.testserver import RedisServer

PASSWORD = "tls-Secret-9"


@pytest.fixture(scope="module")
def tls_server() -> Iterator[RedisServer]:
    with RedisServer(tls=True, password=PASSWORD) as server:
        yield server


def test_round_trip_over_tls(tls_server: RedisServer) -> None:
    """With the CA named in the URL, rediss:// publishes and consumes like redis://."""
    assert tls_server.url.startswith("rediss://")
    broker = RedisBroker(RedisConfig(url=tls_server.url, stream="tls"), BrokerContext())
    try:
        broker.producer("t").publish([Record(b"over tls", key=b"k")])
        consumer = broker.consumer("t", "g")
        got = consumer.poll(1, 2.0)
        assert [(d.payload, d.key) for d in got] == [(b"over tls", b"k")]
        consumer.ack(got)
        consumer.close()
    finally:
        broker.close()


@pytest.mark.parametrize(
    "url_template",
    [
        "rediss://:{password}@127.0.0.1:{port}/0",  # the self-signed CA is not trusted
        "redis://:{password}@127.0.0.1:{port}/0",  # plain text to a TLS port
    ],
    ids=["untrusted-certificate", "plain-text"],
)
def test_tls_failures_are_broker_unavailable(tls_server: RedisServer, url_template: str) -> None:
    """Certificate or protocol mismatches raise BrokerUnavailable without the password."""
    url = url_template.format(password=PASSWORD, port=tls_server.port)
    broker = RedisBroker(RedisConfig(url=url, stream="tls"), BrokerContext(timeout_s=2.0))
    try:
        with pytest.raises(BrokerUnavailable) as info:
            broker.ensure_topics(["t"])
    finally:
        broker.close()
    assert f"127.0.0.1:{tls_server.port}" in str(info.value)
    assert PASSWORD not in str(info.value)
