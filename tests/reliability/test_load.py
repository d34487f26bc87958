"""60 s of load: 50 long-polling workers plus publishers against `jobqueue dev` (embedded
broker) and against a standalone dispatcher on Redis. No errors, nothing lost, memory of the
serving process bounded; the figures are printed (run with -s to see them)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from jobqueue.testing.processes import DevStack
from jobqueue_redis.testserver import RedisServer
from tests.e2e.conftest import DEV_ARGS, Api
from tests.reliability.cluster import Cluster
from tests.reliability.conftest import redis_config
from tests.reliability.load import LoadReport, run_load

SECONDS = 60.0
RSS_SLACK_KIB = 16 * 1024
JOB = "load"


def check(report: LoadReport, label: str) -> None:
    print(report.summary(label))
    assert not report.errors, f"{len(report.errors)} errors, first: {report.errors[:5]}"
    assert len(report.accepted) >= SECONDS * 25, "the load was not applied"
    assert not report.missing, f"{len(report.missing)} published messages never acked"
    last, allowed = report.rss_bound(RSS_SLACK_KIB)
    assert last <= allowed, f"RSS grew: last third max {last} KiB > {allowed} KiB"


def test_60_s_of_load_on_jobqueue_dev(tmp_path: Path) -> None:
    """Embedded broker: controller, dispatcher and broker in the one process measured."""
    stack = DevStack(tmp_path / "dev", *DEV_ARGS).start()
    try:
        api = Api(stack.controller_url, stack.dispatcher_url)
        api.create_job(
            JOB, {"type": "sqlite", "config": {"topic": JOB}}, max_processing_time_ms=30_000
        )
        api.start_job(JOB)
        api.subscribe(JOB)
        api.close()
        assert stack.process is not None
        report = asyncio.run(
            run_load(stack.dispatcher_url, JOB, stack.process.pid, seconds=SECONDS)
        )
    finally:
        code = stack.stop()
    check(report, "jobqueue dev (sqlite)")
    assert code == 0, stack.log()


def test_60_s_of_load_on_a_dispatcher_over_redis(tmp_path: Path) -> None:
    """Redis Streams: the standalone dispatcher process is the one measured. (This Redis
    keeps no append-only file: the fault tests cover durability, this one the service.)"""
    (tmp_path / "redis").mkdir()
    redis_server = RedisServer(directory=tmp_path / "redis")
    redis_server.start()
    cluster = Cluster(tmp_path)
    try:
        dispatcher = cluster.dispatcher()
        api = cluster.api(dispatcher)
        cluster.create_job(
            api, JOB, redis_config(redis_server.url)(JOB), max_processing_time_ms=30_000
        )
        api.subscribe(JOB)
        api.close()
        assert dispatcher.process is not None
        report = asyncio.run(run_load(dispatcher.url, JOB, dispatcher.process.pid, seconds=SECONDS))
    finally:
        problems = cluster.close()
        redis_server.close()
    check(report, "dispatcher on Redis")
    assert not problems, problems
