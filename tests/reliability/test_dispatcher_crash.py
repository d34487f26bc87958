"""kill -9 of a standalone dispatcher while a worker holds messages, then a restart:
every message whose publish was answered 200 is acked at least once."""

from __future__ import annotations

import time
from pathlib import Path

from tests.reliability.cluster import Cluster
from tests.reliability.conftest import QueueConfig
from tests.reliability.leftovers import unacked
from tests.reliability.traffic import Ledger, Publisher, Worker

TOTAL = 600
JOB = "crash"


def test_kill_9_of_the_dispatcher_with_messages_in_flight_loses_nothing(
    tmp_path: Path, queue_config: QueueConfig
) -> None:
    """Mid-stream SIGKILL of the dispatcher (the embedded broker's file lives in it; Redis
    keeps running): the batch a worker held comes back after its lease, its late ack on the
    restarted dispatcher is refused as a bad id, and nothing accepted is lost."""
    cluster = Cluster(tmp_path)
    dispatcher = cluster.dispatcher()
    api = cluster.api(dispatcher)
    ledger = Ledger()
    cluster.create_job(api, JOB, queue_config(JOB))
    api.subscribe(JOB)
    make_api = lambda: cluster.api(dispatcher)  # noqa: E731 (same port after the restart)
    publisher = Publisher(make_api, JOB, ledger, total=TOTAL)
    workers = [Worker(make_api, JOB, ledger, hold_s=0.05) for _ in range(2)]
    try:
        publisher.start()
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 30
        while len(ledger.accepted) < TOTAL // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(ledger.accepted) >= TOTAL // 3, ledger.summary()

        held = [m["id"] for m in api.poll_until(JOB, 1, max_messages=20)]
        ledger.deliver(held)
        dispatcher.kill()
        restarted = cluster.restart(dispatcher)
        api.subscribe(JOB)
        late = api.ack(JOB, held)["bad_ids"]
        again = {i for i in held if ledger.delivered[i] >= 2}

        deadline = time.monotonic() + 60
        while publisher.sent < TOTAL and time.monotonic() < deadline:
            time.sleep(0.1)
        missing = ledger.wait_all_acked(60)
    finally:
        publisher.stop()
        for worker in workers:
            worker.stop()
        api.close()
        problems = cluster.close()
    left = unacked(queue_config(JOB), JOB, tmp_path / "data")
    print(f"\ndispatcher kill -9 ({queue_config(JOB)['type']}): {ledger.summary()}")
    print(f"statuses: {dict(ledger.statuses)}")
    assert not publisher.errors and not any(w.errors for w in workers)
    assert publisher.sent == TOTAL, ledger.summary()
    assert not missing, f"{len(missing)} accepted messages never acked: {ledger.summary()}"
    assert all(ledger.delivered[i] >= 2 for i in held), "held messages were not redelivered"
    # The restarted process holds nothing of its previous life: the late ack is refused,
    # unless a worker already got the message again from it (its lease ran out first).
    assert all(i in late or i in again for i in held), (late, again)
    assert not left, f"{len(left)} messages still un-acked on the broker"
    assert not problems, problems
    assert restarted.process is not None
