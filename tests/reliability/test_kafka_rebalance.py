"""Two dispatchers serve one Kafka job; one is killed with messages in flight: the group
rebalances onto the survivor, which redelivers what the dead one held. Nothing is lost."""

from __future__ import annotations

import time
from pathlib import Path

from tests.reliability.cluster import Cluster
from tests.reliability.conftest import kafka_config
from tests.reliability.leftovers import unacked
from tests.reliability.traffic import Ledger, Publisher, Worker

TOTAL = 900
JOB = "rebalance"


def test_killed_dispatcher_partitions_move_to_the_survivor_without_loss(
    tmp_path: Path, kafka_address: str
) -> None:
    """A and B consume a 2-partition topic in the job's group; A is SIGKILLed while its
    worker and the test hold un-acked messages: after the session timeout B owns both
    partitions, every message A handed out comes again through B, all are acked."""
    config = kafka_config(kafka_address, partitions=2)(JOB)
    cluster = Cluster(tmp_path)
    first = cluster.dispatcher()
    second = cluster.dispatcher()
    api_a, api_b = cluster.api(first), cluster.api(second)
    ledger = Ledger()
    publisher = Publisher(
        lambda: cluster.api(second), JOB, ledger, total=TOTAL, batch=10, pause_s=0.1
    )
    worker_a = Worker(lambda: cluster.api(first), JOB, ledger, hold_s=0.1)
    worker_b = Worker(lambda: cluster.api(second), JOB, ledger, hold_s=0.1)
    try:
        cluster.create_job(api_a, JOB, config)
        api_a.subscribe(JOB)
        api_b.subscribe(JOB)
        publisher.start()
        worker_a.start()
        worker_b.start()
        deadline = time.monotonic() + 60
        while not (worker_a.acked and worker_b.acked) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert worker_a.acked and worker_b.acked, (
            f"a dispatcher got no partition: {ledger.summary()}"
        )

        held = [m["id"] for m in api_a.poll_until(JOB, 1, max_messages=20)]
        ledger.deliver(held)
        first.kill()
        worker_a.stop()

        deadline = time.monotonic() + 60
        while publisher.sent < TOTAL and time.monotonic() < deadline:
            time.sleep(0.1)
        missing = ledger.wait_all_acked(60)
    finally:
        publisher.stop()
        worker_a.stop()
        worker_b.stop()
        api_a.close()
        api_b.close()
        problems = cluster.close()
    left = unacked(config, JOB, tmp_path / "data")
    print(f"\nkafka rebalance after kill -9 of one of two dispatchers: {ledger.summary()}")
    print(f"statuses: {dict(ledger.statuses)}")
    assert not publisher.errors and not worker_a.errors and not worker_b.errors
    assert publisher.sent == TOTAL, ledger.summary()
    assert not missing, f"{len(missing)} accepted messages never acked: {ledger.summary()}"
    assert all(ledger.delivered[i] >= 2 for i in held), "held messages were not redelivered"
    assert not left, f"{len(left)} messages still un-committed on the broker"
    assert not problems, problems
