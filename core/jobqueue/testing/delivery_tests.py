"""Conformance tests of single-consumer delivery: payloads, polling and key order."""

from __future__ import annotations

import hashlib
import random
import threading
import time

import pytest

from jobqueue.contract import Record
from jobqueue.testing.base import SuiteBase
from jobqueue.testing.harness import Harness
from jobqueue.testing.helpers import drain, numbered, payloads, unique_name

ONE_MIB = 1024 * 1024


class DeliveryTests(SuiteBase):
    """Round trips, payload fidelity, poll timing and ordering within a key."""

    # -- round trip and payloads ----------------------------------------------------------

    def test_publish_poll_ack_round_trip(self, conformance: Harness) -> None:
        """Published records are polled with payload and key, and stay away once acked."""
        topic = self._topic(conformance)
        keyed = conformance.broker.capabilities.keyed
        records = [
            Record(payload=b"alpha", key=b"k1" if keyed else None),
            Record(payload=b"beta", key=None),
            Record(payload=b"gamma", key=b"k2" if keyed else None),
        ]
        producer = conformance.producer(topic)
        producer.publish(records)
        group = unique_name("g")
        consumer = conformance.consumer(topic, group)

        got = self._drain(consumer, len(records))

        assert sorted((d.payload, d.key) for d in got) == sorted(
            (r.payload, r.key) for r in records
        )
        consumer.ack(got)
        consumer.close()
        reopened = conformance.consumer(topic, group, broker=conformance.new_broker())
        producer.publish([Record(payload=b"sentinel")])
        after = self._until_sentinel(reopened) + self._quiet(reopened)
        assert payloads(after) == [b"sentinel"]

    def test_binary_payload_bytes_preserved(self, conformance: Harness) -> None:
        """Every byte value 0..255 survives the round trip, in payload and in key."""
        topic = self._topic(conformance)
        payload = bytes(range(256)) + bytes(reversed(range(256)))
        key = b"\x00\xff\x80key\x7f" if conformance.broker.capabilities.keyed else None
        conformance.publish(topic, [payload], key=key)
        consumer = conformance.consumer(topic, unique_name("g"))

        got = self._drain(consumer, 1, ack=True)

        assert [(d.payload, d.key) for d in got] == [(payload, key)]

    def test_one_mib_payload_preserved(self, conformance: Harness) -> None:
        """A 1 MiB random payload arrives byte for byte."""
        limit = conformance.broker.capabilities.max_payload_bytes
        if limit < ONE_MIB:
            pytest.skip(f"capability max_payload_bytes={limit} is below 1 MiB ({ONE_MIB})")
        topic = self._topic(conformance)
        payload = random.Random(20240601).randbytes(ONE_MIB)
        conformance.publish(topic, [payload])
        consumer = conformance.consumer(topic, unique_name("g"))

        got = self._drain(consumer, 1, ack=True)

        assert [len(d.payload) for d in got] == [ONE_MIB]
        assert hashlib.sha256(got[0].payload).hexdigest() == hashlib.sha256(payload).hexdigest()

    def test_publish_of_empty_list_and_ack_of_empty_list_are_no_ops(
        self, conformance: Harness
    ) -> None:
        """``publish([])`` writes nothing and ``ack([])`` does nothing; neither raises."""
        topic = self._topic(conformance)
        producer = conformance.producer(topic)
        assert producer.publish([]) is None
        consumer = conformance.consumer(topic, unique_name("g"))
        assert consumer.ack([]) is None
        producer.publish([Record(payload=b"sentinel")])

        got = self._until_sentinel(consumer) + self._quiet(consumer)

        assert payloads(got) == [b"sentinel"]

    # -- polling --------------------------------------------------------------------------

    def test_empty_poll_waits_for_its_timeout(self, conformance: Harness) -> None:
        """A poll with nothing to deliver returns [] after about ``timeout_s``, not much later."""
        topic = self._topic(conformance)
        consumer = conformance.consumer(topic, unique_name("g"))
        timeout_s = 1.0
        for _ in range(2):
            started = time.monotonic()
            batch = consumer.poll(10, timeout_s)
            elapsed = time.monotonic() - started
            assert batch == []
            assert elapsed >= timeout_s * 0.9, f"empty poll returned early, after {elapsed:.3f}s"
            assert elapsed <= timeout_s + self.poll_slack_s, (
                f"empty poll with timeout {timeout_s}s took {elapsed:.3f}s"
            )

    def test_zero_timeout_poll_returns_promptly(self, conformance: Harness) -> None:
        """``poll(n, 0)`` on an empty topic returns [] without waiting."""
        topic = self._topic(conformance)
        consumer = conformance.consumer(topic, unique_name("g"))
        started = time.monotonic()
        batch = consumer.poll(10, 0)
        elapsed = time.monotonic() - started
        assert batch == []
        assert elapsed <= self.poll_slack_s, f"poll(timeout_s=0) took {elapsed:.3f}s"

    def test_waiting_poll_returns_as_soon_as_a_record_arrives(self, conformance: Harness) -> None:
        """A long poll returns a record published while it waits, well before its timeout."""
        topic = self._topic(conformance)
        consumer = conformance.consumer(topic, unique_name("g"))
        conformance.publish(topic, [b"warm-up"])
        assert payloads(self._drain(consumer, 1, ack=True)) == [b"warm-up"]
        producer = conformance.producer(topic, broker=conformance.new_broker())
        published_at: list[float] = []
        errors: list[BaseException] = []

        def publish_later() -> None:
            time.sleep(0.3)
            try:
                producer.publish([Record(payload=b"late")])
                published_at.append(time.monotonic())
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=publish_later)
        thread.start()
        long_timeout_s = self.delivery_latency_s * 4
        try:
            got = drain(consumer, 1, long_timeout_s, poll_timeout_s=long_timeout_s, ack=True)
            returned_at = time.monotonic()
        finally:
            thread.join()
        assert not errors, f"publish failed: {errors[0]!r}"
        assert payloads(got) == [b"late"]
        latency = returned_at - published_at[0]
        assert latency <= self.delivery_latency_s, f"the record took {latency:.3f}s to arrive"

    def test_poll_respects_max_records(self, conformance: Harness) -> None:
        """No poll returns more than ``max_records`` deliveries, and small polls add up."""
        topic = self._topic(conformance)
        sent = numbered("rec", 10)
        conformance.publish(topic, sent)
        consumer = conformance.consumer(topic, unique_name("g"))

        got = self._drain(consumer, len(sent), max_records=3, ack=True)

        assert sorted(payloads(got)) == sent

    # -- ordering -------------------------------------------------------------------------

    def test_order_within_a_key(self, conformance: Harness) -> None:
        """Records with one key arrive in publish order (whole topic if ordering="topic")."""
        ordering = conformance.broker.capabilities.ordering
        if ordering == "none":
            pytest.skip('capability ordering="none": the broker promises no order')
        topic = self._topic(conformance)
        keys = [b"key-a", b"key-b", b"key-c"]
        producer = conformance.producer(topic)
        sent: list[Record] = []
        for batch_number in range(3):
            batch = [
                Record(payload=f"{batch_number}-{i:03d}".encode(), key=keys[i % len(keys)])
                for i in range(12)
            ]
            producer.publish(batch)
            sent.extend(batch)
        consumer = conformance.consumer(topic, unique_name("g"))

        got = self._drain(consumer, len(sent), max_records=5, ack=True)

        for key in keys:
            expected = [r.payload for r in sent if r.key == key]
            assert [d.payload for d in got if d.key == key] == expected, f"key {key!r}"
        if ordering == "topic":
            assert payloads(got) == [r.payload for r in sent]
