"""`BrokerConformance`: the behaviour tests every broker plugin passes.

Mixed into a test class per broker (see `jobqueue.testing` for how); each test builds its own
topics and groups, so the tests share nothing but the backend.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from jobqueue.contract import Broker, Consumer, Delivery, Producer, Record
from jobqueue.errors import BrokerUnavailable
from jobqueue.testing.harness import Harness
from jobqueue.testing.helpers import (
    collect_for,
    drain,
    drain_until,
    numbered,
    payloads,
    poll_checked,
    unique_name,
)

ONE_MIB = 1024 * 1024


def _by_payload(deliveries: list[Delivery]) -> dict[bytes, Delivery]:
    return {delivery.payload: delivery for delivery in deliveries}


def _close_quietly(*closables: Broker | Producer | Consumer) -> None:
    """Close what a failure test opened; closing a broker that never connected may fail too."""
    for closable in closables:
        with contextlib.suppress(Exception):
            closable.close()


def _secrets(broker: Broker) -> list[str]:
    """The config's secret values, and the password inside any secret URL."""
    found: list[str] = []
    for field in type(broker.config).__secret_fields__:
        value = getattr(broker.config, field, None)
        if not isinstance(value, str) or not value:
            continue
        found.append(value)
        if "://" in value:
            with contextlib.suppress(ValueError):
                password = urlsplit(value).password
                if password:
                    found.append(password)
    return found


def _assert_names_broker_without_secrets(broker: Broker, error: BrokerUnavailable) -> None:
    assert error.broker == broker.name
    assert error.address, "the error must name the address"
    text = f"{error} {error.address} {error.reason}"
    for secret in _secrets(broker):
        assert secret not in text, "the error message shows a secret from the config"


def _duplicates(items: list[bytes]) -> list[bytes]:
    return sorted(item for item, count in Counter(items).items() if count > 1)


class BrokerConformance:
    """The conformance suite; subclass it as ``Test<Name>Conformance`` and supply fixtures.

    Tuning knobs (class attributes; override for slow backends, never to weaken a test):

    ``delivery_deadline_s``   how long to keep polling for records that must arrive.
    ``quiet_s``               how long to keep polling to show that nothing else arrives.
    ``poll_timeout_s``        the ``timeout_s`` of each poll inside those loops.
    ``poll_slack_s``          how late an empty poll may return after its timeout.
    ``delivery_latency_s``    how soon a waiting poll must return a record published meanwhile.
    ``unreachable_slack_s``   how long past ``context.timeout_s`` an unreachable broker may
                              take to raise `BrokerUnavailable`.
    ``lease_ms``              the short lease of the lease-expiry test.
    """

    delivery_deadline_s: float = 30.0
    quiet_s: float = 2.0
    poll_timeout_s: float = 0.5
    poll_slack_s: float = 1.0
    delivery_latency_s: float = 5.0
    unreachable_slack_s: float = 5.0
    lease_ms: int = 1_000

    @pytest.fixture
    def broker_factory(self) -> Callable[[], Broker]:
        """Override: build a NEW broker instance on the backend under test at each call."""
        pytest.fail(f"{type(self).__name__} must define the `broker_factory` fixture")

    @pytest.fixture
    def unreachable_broker_factory(self) -> Callable[[], Broker]:
        """Override: build a broker for an address where nothing listens (timeout_s=2.0)."""
        pytest.fail(f"{type(self).__name__} must define the `unreachable_broker_factory` fixture")

    @pytest.fixture
    def conformance(self, broker_factory: Callable[[], Broker]) -> Iterator[Harness]:
        """Everything a test opens, closed when it ends."""
        harness = Harness(broker_factory)
        try:
            yield harness
        finally:
            harness.close_all()

    def _topic(self, harness: Harness) -> str:
        topic = unique_name("jqc")
        harness.broker.ensure_topics([topic])
        return topic

    def _drain(
        self, consumer: Consumer, expected: int, *, max_records: int = 100, ack: bool = False
    ) -> list[Delivery]:
        return drain(
            consumer,
            expected,
            self.delivery_deadline_s,
            max_records=max_records,
            poll_timeout_s=self.poll_timeout_s,
            ack=ack,
        )

    def _until_sentinel(self, consumer: Consumer) -> list[Delivery]:
        """Poll (acking) until the record with payload ``b"sentinel"`` arrived."""
        return drain_until(
            consumer,
            lambda received: b"sentinel" in payloads(received),
            self.delivery_deadline_s,
            poll_timeout_s=self.poll_timeout_s,
            ack=True,
        )

    def _quiet(self, consumer: Consumer) -> list[Delivery]:
        return collect_for(consumer, self.quiet_s, poll_timeout_s=self.poll_timeout_s)

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

    # -- redelivery and acks --------------------------------------------------------------

    def test_unacked_deliveries_come_back_after_close(self, conformance: Harness) -> None:
        """What a closed consumer polled but never acked goes to the next consumer of the group."""
        topic = self._topic(conformance)
        group = unique_name("g")
        sent = numbered("rec", 5)
        conformance.publish(topic, sent)
        first = conformance.consumer(topic, group)
        assert sorted(payloads(self._drain(first, len(sent)))) == sent
        first.close()

        second = conformance.consumer(topic, group, broker=conformance.new_broker())
        again = self._drain(second, len(sent), ack=True)

        assert sorted(payloads(again)) == sent

    def test_out_of_order_acks_never_skip_an_unacked_delivery(self, conformance: Harness) -> None:
        """Ack 2..n but not 1, close, reopen: 1 comes back and 2..n do not."""
        topic = self._topic(conformance)
        group = unique_name("g")
        sent = numbered("rec", 6)
        # One key keeps them on one partition/shard, where a committed offset could skip 1.
        key = b"one-partition" if conformance.broker.capabilities.keyed else None
        conformance.publish(topic, sent, key=key)
        first = conformance.consumer(topic, group)
        delivered = _by_payload(self._drain(first, len(sent)))
        assert sorted(delivered) == sent
        for chunk in ([sent[5]], [sent[2], sent[4]], [sent[1]], [sent[3]]):
            first.ack([delivered[payload] for payload in chunk])
        first.close()

        second = conformance.consumer(topic, group, broker=conformance.new_broker())
        got = drain_until(
            second,
            lambda received: sent[0] in payloads(received),
            self.delivery_deadline_s,
            poll_timeout_s=self.poll_timeout_s,
        )
        got += self._quiet(second)

        assert payloads(got) == [sent[0]]
        second.ack(got)

    # -- groups ---------------------------------------------------------------------------

    def test_two_consumers_of_a_group_split_work_without_duplicates(
        self, conformance: Harness
    ) -> None:
        """Two healthy consumers of one group never get the same record and together get all."""
        topic = self._topic(conformance)
        group = unique_name("g")
        consumers = [
            conformance.consumer(topic, group),
            conformance.consumer(topic, group, broker=conformance.new_broker()),
        ]
        sent = numbered("rec", 60)
        conformance.publish(topic, sent)
        lock = threading.Lock()
        received: list[list[bytes]] = [[], []]
        errors: list[BaseException] = []
        deadline = time.monotonic() + self.delivery_deadline_s

        def work(index: int) -> None:
            try:
                while time.monotonic() < deadline:
                    with lock:
                        if sum(map(len, received)) >= len(sent):
                            return
                    batch = poll_checked(consumers[index], 5, self.poll_timeout_s)
                    if batch:
                        consumers[index].ack(batch)
                        with lock:
                            received[index].extend(payloads(batch))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert not errors, f"a consumer failed: {errors[0]!r}"
        everything = received[0] + received[1]
        assert _duplicates(everything) == []
        assert sorted(everything) == sent

    def test_two_groups_each_get_every_record(self, conformance: Harness) -> None:
        """Each consumer group reads the whole topic, independently of the other."""
        topic = self._topic(conformance)
        sent = numbered("rec", 10)
        conformance.publish(topic, sent)
        for group in (unique_name("g"), unique_name("g")):
            consumer = conformance.consumer(topic, group)
            assert sorted(payloads(self._drain(consumer, len(sent), ack=True))) == sent

    def test_expired_lease_goes_to_another_consumer(self, conformance: Harness) -> None:
        """A delivery not acked within ``lease_ms`` is handed to another consumer, not before."""
        topic = self._topic(conformance)
        group = unique_name("g")
        conformance.publish(topic, [b"slow"])
        holder = conformance.consumer(topic, group, lease_ms=self.lease_ms)
        assert payloads(self._drain(holder, 1)) == [b"slow"]
        leased_at = time.monotonic()
        other = conformance.consumer(
            topic, group, lease_ms=self.lease_ms, broker=conformance.new_broker()
        )

        got = self._drain(other, 1, ack=True)
        elapsed = time.monotonic() - leased_at

        assert payloads(got) == [b"slow"]
        assert elapsed >= self.lease_ms / 1000 * 0.9, (
            f"handed out again {elapsed:.3f}s after a {self.lease_ms} ms lease began"
        )

    # -- topics, lifecycle, failures ------------------------------------------------------

    def test_ensure_topics_is_idempotent(self, conformance: Harness) -> None:
        """``ensure_topics`` twice, and from a second broker instance, leaves working topics."""
        topics = [unique_name("jqc"), unique_name("jqc")]
        conformance.broker.ensure_topics(topics)
        conformance.broker.ensure_topics(topics)
        conformance.broker.ensure_topics([])
        conformance.new_broker().ensure_topics(list(reversed(topics)))
        for topic in topics:
            conformance.publish(topic, [topic.encode()])
            consumer = conformance.consumer(topic, unique_name("g"))
            assert payloads(self._drain(consumer, 1, ack=True)) == [topic.encode()]

    def test_close_is_idempotent(self, conformance: Harness) -> None:
        """Closing a producer, a consumer or a broker twice does not raise."""
        topic = self._topic(conformance)
        broker = conformance.new_broker()
        producer = broker.producer(topic)
        consumer = broker.consumer(topic, unique_name("g"))
        for closable in (producer, producer, consumer, consumer, broker, broker):
            closable.close()

    def test_unreachable_broker_fails_publish_in_bounded_time(
        self, unreachable_broker_factory: Callable[[], Broker]
    ) -> None:
        """Publishing to a broker nobody serves raises BrokerUnavailable, naming it, no secrets."""
        broker = unreachable_broker_factory()
        bound_s = broker.context.timeout_s + self.unreachable_slack_s
        opened: list[Producer] = []
        started = time.monotonic()
        try:
            with pytest.raises(BrokerUnavailable) as raised:
                opened.append(broker.producer(unique_name("jqc")))
                opened[0].publish([Record(payload=b"nobody listens")])
            elapsed = time.monotonic() - started
        finally:
            _close_quietly(*opened, broker)
        assert elapsed <= bound_s, f"took {elapsed:.1f}s to fail (bound {bound_s:.1f}s)"
        _assert_names_broker_without_secrets(broker, raised.value)

    def test_unreachable_broker_fails_consumer_in_bounded_time(
        self, unreachable_broker_factory: Callable[[], Broker]
    ) -> None:
        """Creating or polling a consumer of a broker nobody serves raises BrokerUnavailable."""
        broker = unreachable_broker_factory()
        poll_timeout_s = 1.0
        bound_s = broker.context.timeout_s + poll_timeout_s + self.unreachable_slack_s
        opened: list[Consumer] = []
        started = time.monotonic()
        try:
            with pytest.raises(BrokerUnavailable) as raised:
                opened.append(broker.consumer(unique_name("jqc"), unique_name("g")))
                opened[0].poll(10, poll_timeout_s)
            elapsed = time.monotonic() - started
        finally:
            _close_quietly(*opened, broker)
        assert elapsed <= bound_s, f"took {elapsed:.1f}s to fail (bound {bound_s:.1f}s)"
        _assert_names_broker_without_secrets(broker, raised.value)
