"""Broker restarts under a running dispatcher: Redis killed mid-stream and started again
on its append-only file; nothing whose publish was answered 200 is lost."""

from __future__ import annotations

import time
from pathlib import Path

from jobqueue_redis.testserver import RedisServer
from tests.reliability.cluster import Cluster
from tests.reliability.conftest import redis_config
from tests.reliability.leftovers import retry_copies_of_acked, unacked
from tests.reliability.traffic import Ledger, Publisher, Worker

TOTAL = 600
JOB = "aof"


def test_redis_kill_9_and_restart_mid_stream_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL of redis-server (AOF, fsync always) for ~2 s while publishing and consuming
    through one dispatcher: publishes answer 503 meanwhile and are retried, acks report
    failed ids and are retried; afterwards every accepted message is acked."""
    (tmp_path / "redis").mkdir()
    server = RedisServer(appendonly=True, directory=tmp_path / "redis")
    server.start()
    config = redis_config(server.url)
    cluster = Cluster(tmp_path / "cluster")
    dispatcher = cluster.dispatcher()
    api = cluster.api(dispatcher)
    ledger = Ledger()
    make_api = lambda: cluster.api(dispatcher)  # noqa: E731
    publisher = Publisher(make_api, JOB, ledger, total=TOTAL)
    workers = [Worker(make_api, JOB, ledger, hold_s=0.05) for _ in range(2)]
    try:
        cluster.create_job(api, JOB, config(JOB))
        api.subscribe(JOB)
        publisher.start()
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 30
        while len(ledger.accepted) < TOTAL // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(ledger.accepted) >= TOTAL // 3, ledger.summary()
        server.stop(kill=True)
        time.sleep(2.0)
        down = api.worker("publish", name=JOB, msgs=[{"data": "while down"}])
        server.start()

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
    try:
        left = unacked(config(JOB), JOB, tmp_path)
    finally:
        server.close()
    print(f"\nredis kill -9 + AOF restart: {ledger.summary()}")
    print(f"statuses: {dict(ledger.statuses)}")
    assert down.status_code == 503, down.text
    assert "redis" in down.json()["error"]
    assert not publisher.errors and not any(w.errors for w in workers)
    assert publisher.sent == TOTAL, ledger.summary()
    assert not missing, f"{len(missing)} accepted messages never acked: {ledger.summary()}"
    left, copies = retry_copies_of_acked(left, ledger.acked)
    print(f"retry-queue copies of acked messages left by writes the kill cut off: {len(copies)}")
    assert not left, f"{len(left)} messages still un-acked on the broker"
    assert not problems, problems
