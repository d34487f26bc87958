"""PutRecords batching, per-record retries and per-record failure reports, on a moto server.

Failures are injected through botocore's event hooks on the broker's real client: the calls
still go over HTTP to the server; only chosen records are reported rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from jobqueue.contract import Record
from jobqueue.errors import BrokerUnavailable, PublishFailed
from jobqueue.testing import drain, payloads
from jobqueue_kinesis import KinesisBroker

BrokerFactory = Callable[..., KinesisBroker]

REJECTED = {
    "ErrorCode": "ProvisionedThroughputExceededException",
    "ErrorMessage": "Rate exceeded for shard (injected)",
}


class RejectRecords:
    """Makes chosen records of each PutRecords call come back failed.

    ``reject(call_number, data)`` picks them. With ``withhold`` they are also taken out of the
    request, so that the server never stores them, as when Kinesis rejects a record; without,
    the server stores them and only the response says they failed (a lost acknowledgement).
    """

    def __init__(
        self, client: Any, reject: Callable[[int, bytes], bool], *, withhold: bool
    ) -> None:
        self.sent: list[list[bytes]] = []
        self._reject = reject
        self._withhold = withhold
        self._rejected: set[int] = set()
        client.meta.events.register("before-parameter-build.kinesis.PutRecords", self._before)
        client.meta.events.register("after-call.kinesis.PutRecords", self._after)

    def _before(self, params: dict[str, Any], **_: Any) -> None:
        records = params["Records"]
        call = len(self.sent)
        self.sent.append([record["Data"] for record in records])
        self._rejected = {i for i, r in enumerate(records) if self._reject(call, r["Data"])}
        if self._withhold:
            assert len(self._rejected) < len(records), "a call must keep at least one record"
            params["Records"] = [r for i, r in enumerate(records) if i not in self._rejected]

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        if "Records" not in parsed:
            return
        results = iter(parsed["Records"])
        rewritten = []
        for index in range(len(self.sent[-1])):
            if index in self._rejected:
                rewritten.append(dict(REJECTED))
                if not self._withhold:
                    next(results)
            else:
                rewritten.append(next(results))
        parsed["Records"] = rewritten
        parsed["FailedRecordCount"] = len(self._rejected)


def _sizes(injector: RejectRecords) -> list[int]:
    return [len(call) for call in injector.sent]


def _read_all(broker: KinesisBroker, stream: str, expected: int) -> list[bytes]:
    consumer = broker.consumer(stream, "readers")
    try:
        got = drain(consumer, expected, 30.0, max_records=500, ack=True)
        got += drain(consumer, 1, 1.0, ack=True)  # nothing beyond what was expected
    finally:
        consumer.close()
    return payloads(got)


def test_batches_respect_the_record_and_size_limits(broker: KinesisBroker, stream: str) -> None:
    """1203 small records take 500+500+203; seven of 900 KiB take 5+2 (5 MiB per call)."""
    broker.ensure_topics([stream])
    calls = RejectRecords(broker.clients.kinesis, lambda _call, _data: False, withhold=False)
    small = [f"small-{i:05d}".encode() for i in range(1203)]
    big = [bytes([i]) * (900 * 1024) for i in range(7)]
    producer = broker.producer(stream)

    producer.publish([Record(payload) for payload in small])
    producer.publish([Record(payload, key=b"big") for payload in big])

    assert _sizes(calls) == [500, 500, 203, 5, 2]
    got = _read_all(broker, stream, len(small) + len(big))
    assert sorted(got) == sorted(small + big)
    assert [hashlib.sha256(p).digest() for p in got if len(p) > 1000] == [
        hashlib.sha256(p).digest() for p in big
    ]


def test_rejected_records_are_retried_until_accepted(broker: KinesisBroker, stream: str) -> None:
    """Records Kinesis rejects are sent again, alone, and land exactly once."""
    broker.ensure_topics([stream])
    sent = [f"rec-{i}".encode() for i in range(5)]
    injector = RejectRecords(
        broker.clients.kinesis,
        lambda call, data: call == 0 and data in (sent[1], sent[3]),
        withhold=True,
    )

    broker.producer(stream).publish([Record(payload) for payload in sent])

    assert injector.sent == [sent, [sent[1], sent[3]]]
    assert sorted(_read_all(broker, stream, len(sent))) == sent


def test_persistent_rejection_is_reported_per_record(brokers: BrokerFactory, stream: str) -> None:
    """A record rejected on every attempt fails the publish with its index; the rest land."""
    broker = brokers(publish_attempts=3)
    broker.ensure_topics([stream])
    sent = [b"a", b"b", b"poison", b"c", b"d"]
    # Not withheld: the retries carry only this record, and a request cannot be empty.
    injector = RejectRecords(
        broker.clients.kinesis, lambda _call, data: data == b"poison", withhold=False
    )

    with pytest.raises(PublishFailed) as raised:
        broker.producer(stream).publish([Record(payload) for payload in sent])

    assert raised.value.failed == [2]
    assert _sizes(injector) == [5, 1, 1]
    assert raised.value.broker == "kinesis"
    assert raised.value.address == broker.settings.endpoint_url
    assert "ProvisionedThroughputExceededException" in str(raised.value)
    assert "after 3 attempts" in str(raised.value)


def test_an_oversized_record_fails_alone(broker: KinesisBroker, stream: str) -> None:
    """A record over 1 MiB is reported by index; the records around it are published."""
    broker.ensure_topics([stream])
    records = [Record(b"before"), Record(b"x" * (1024 * 1024 + 1)), Record(b"after")]

    with pytest.raises(PublishFailed) as raised:
        broker.producer(stream).publish(records)

    assert raised.value.failed == [1]
    assert "exceeds the Kinesis limit" in str(raised.value)
    assert sorted(_read_all(broker, stream, 2)) == [b"after", b"before"]


def test_publish_to_a_missing_stream_fails_every_record(broker: KinesisBroker) -> None:
    """A stream that does not exist is an outage for the caller, with every index listed."""
    with pytest.raises(PublishFailed) as raised:
        broker.producer("no-such-stream").publish([Record(b"1"), Record(b"2")])
    assert isinstance(raised.value, BrokerUnavailable)
    assert raised.value.failed == [0, 1]
    assert "ResourceNotFoundException" in str(raised.value)


def test_credentials_from_the_standard_chain(
    monkeypatch: pytest.MonkeyPatch, moto: Any, stream: str
) -> None:
    """Without keys in the config, boto3's chain (here the environment) supplies them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    config = moto.config(stream, aws_access_key_id=None, aws_secret_access_key=None)
    broker = KinesisBroker(config)
    try:
        broker.ensure_topics([stream])
        broker.producer(stream).publish([Record(b"via-env")])
        assert _read_all(broker, stream, 1) == [b"via-env"]
    finally:
        broker.close()


def test_empty_payload_and_empty_key_round_trip(broker: KinesisBroker, stream: str) -> None:
    """Kinesis accepts empty data; an empty key is not confused with no key."""
    broker.ensure_topics([stream])
    broker.producer(stream).publish([Record(b""), Record(b"", key=b"")])
    consumer = broker.consumer(stream, "readers")
    got = drain(consumer, 2, 20.0, ack=True)
    consumer.close()
    assert sorted((d.payload, d.key is None) for d in got) == [(b"", False), (b"", True)]
    assert [d.key for d in got if d.key is not None] == [b""]
