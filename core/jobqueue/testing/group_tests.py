"""Conformance tests of consumer groups: redelivery, out-of-order acks, leases."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from jobqueue.contract import Delivery
from jobqueue.testing.base import SuiteBase
from jobqueue.testing.harness import Harness
from jobqueue.testing.helpers import drain_until, numbered, payloads, poll_checked, unique_name


def _by_payload(deliveries: list[Delivery]) -> dict[bytes, Delivery]:
    return {delivery.payload: delivery for delivery in deliveries}


def _duplicates(items: list[bytes]) -> list[bytes]:
    return sorted(item for item, count in Counter(items).items() if count > 1)


class GroupTests(SuiteBase):
    """At-least-once delivery across consumers and groups of one topic."""

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
        deadline = time.monotonic() + self.delivery_deadline_s
        held: list[Delivery] = []
        while not held and time.monotonic() < deadline:
            # The lease begins inside the poll that returns the record, so after this instant.
            polled_at = time.monotonic()
            held = poll_checked(holder, 1, self.poll_timeout_s)
        assert payloads(held) == [b"slow"]
        other = conformance.consumer(
            topic, group, lease_ms=self.lease_ms, broker=conformance.new_broker()
        )

        got = self._drain(other, 1, ack=True)
        elapsed = time.monotonic() - polled_at

        assert payloads(got) == [b"slow"]
        assert elapsed >= self.lease_ms / 1000 * 0.95, (
            f"handed out again {elapsed:.3f}s after a {self.lease_ms} ms lease began"
        )

    def test_extended_lease_is_not_handed_to_another_consumer(self, conformance: Harness) -> None:
        """``extend`` keeps a delivery from the rest of the group past its lease; once the
        extensions stop, the lease runs out and another consumer gets it."""
        if not conformance.broker.capabilities.record_leases:
            pytest.skip("capability record_leases=False: deliveries move with a partition/shard")
        topic = self._topic(conformance)
        group = unique_name("g")
        conformance.publish(topic, [b"long"])
        holder = conformance.consumer(topic, group, lease_ms=self.lease_ms)
        held = self._drain(holder, 1)
        holder.extend(held)
        other = conformance.consumer(
            topic, group, lease_ms=self.lease_ms, broker=conformance.new_broker()
        )
        lease_s = self.lease_ms / 1000
        until = time.monotonic() + 3 * lease_s
        while time.monotonic() < until:
            holder.extend(held)
            stolen = poll_checked(other, 1, lease_s / 4)
            assert payloads(stolen) == [], "handed to another consumer while its lease was extended"

        got = self._drain(other, 1, ack=True)

        assert payloads(got) == [b"long"]
