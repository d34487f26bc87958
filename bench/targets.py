"""The broker under test: its server, started the way the tests start it, and its configs.

A `Target` gives the job's ``queue_config`` for a topic (what the dispatcher opens) and a
`Broker` of the plugin for the same topic (what direct mode uses), so both modes talk to the
same server with the same client library.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import psutil

from jobqueue.contract import Broker, BrokerContext
from jobqueue.plugins import BrokerRegistry, load_brokers

BROKERS = ("sqlite", "redis", "kafka", "kinesis")
KAFKA_PARTITIONS = 4
KAFKA_NOTES = {
    "tansu": "Tansu (memory storage), the Kafka-protocol broker the tests use",
    "container": "Apache Kafka in a container",
    "external": "an external Kafka cluster",
}


class BenchError(RuntimeError):
    """A benchmark could not run or finish (a server did not start, messages went missing)."""


@dataclass
class Target:
    """One broker server for the whole bench invocation.

    ``server_pid``: the broker's own process, measured as ``broker`` CPU (None when the broker
    is embedded or runs elsewhere). ``settle_s``: how long a warm-up lasts at least, so that
    consumer-group joins and rebalances end before the timed window. ``note``: what a reader
    must know about the numbers of this target.
    """

    broker: str
    queue_config: Callable[[str], dict[str, Any]]
    server_pid: int | None
    registry: BrokerRegistry
    context: BrokerContext
    settle_s: float = 0.0
    note: str = ""

    def direct_broker(self, topic: str) -> Broker:
        """The plugin's broker for ``topic``, as the dispatcher would open it."""
        raw = self.queue_config(topic)
        broker_cls = self.registry.get(raw["type"])
        return broker_cls(broker_cls.parse_config(raw["config"]), self.context)


@contextlib.contextmanager
def open_target(broker: str, workdir: Path) -> Iterator[Target]:
    """Start the server ``broker`` needs (nothing for sqlite) and stop it afterwards."""
    registry = load_brokers()
    context = BrokerContext(data_dir=str(workdir / "direct"), instance_id="bench-direct")
    if broker == "sqlite":
        path = str(workdir / "broker.db")
        yield Target(
            broker,
            lambda topic: {"type": "sqlite", "config": {"topic": topic, "path": path}},
            None,
            registry,
            context,
            note="embedded: the broker's work is done inside the measured process",
        )
    elif broker == "redis":
        yield from _redis(registry, context)
    elif broker == "kafka":
        yield from _kafka(registry, context)
    elif broker == "kinesis":
        yield from _kinesis(registry, context)
    else:
        raise BenchError(f"unknown broker {broker!r}; choose from {', '.join(BROKERS)}")


def _redis(registry: BrokerRegistry, context: BrokerContext) -> Iterator[Target]:
    from jobqueue_redis.testserver import RedisServer, RedisServerError

    server = RedisServer(appendonly=False)
    try:
        server.start()
    except RedisServerError as exc:
        server.close()
        raise BenchError(f"cannot start redis-server: {exc}") from exc
    try:
        url = server.url
        yield Target(
            "redis",
            lambda topic: {"type": "redis", "config": {"url": url, "stream": topic}},
            server.pid,
            registry,
            context,
            note="redis-server without AOF (in memory)",
        )
    finally:
        server.close()


def _kafka(registry: BrokerRegistry, context: BrokerContext) -> Iterator[Target]:
    from jobqueue_kafka.testserver import TestServerError, kafka_test_server

    try:
        with kafka_test_server() as server:
            yield _kafka_target(server.address, server.kind, registry, context)
    except TestServerError as exc:
        raise BenchError(f"cannot start a Kafka test broker: {exc}") from exc


def _kafka_target(
    address: str, kind: str, registry: BrokerRegistry, context: BrokerContext
) -> Target:
    from jobqueue_kafka.testserver import GROUP_SETTINGS

    def queue_config(topic: str) -> dict[str, Any]:
        config = {
            "cluster_address": [address],
            "topic": topic,
            "partitions": KAFKA_PARTITIONS,
            "config": dict(GROUP_SETTINGS),
        }
        return {"type": "kafka", "config": config}

    return Target(
        "kafka",
        queue_config,
        _child_pid("tansu") if kind == "tansu" else None,
        registry,
        context,
        settle_s=8.0,
        note=KAFKA_NOTES.get(kind, kind),
    )


def _kinesis(registry: BrokerRegistry, context: BrokerContext) -> Iterator[Target]:
    # moto runs in a child process so that its CPU is not charged to the bench process.
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.moto_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().decode().strip()
        if not url.startswith("http"):
            raise BenchError(f"moto server did not start (exit status {child.poll()})")
        from jobqueue_kinesis.testserver import MotoEndpoint

        endpoint = MotoEndpoint(url)

        def queue_config(topic: str) -> dict[str, Any]:
            config = msgspec.to_builtins(endpoint.config(topic, idle_poll_ms=50))
            return {"type": "kinesis", "config": {k: v for k, v in config.items() if v}}

        yield Target(
            "kinesis",
            queue_config,
            child.pid,
            registry,
            context,
            settle_s=2.0,
            note="moto (an emulator serving one request at a time): not a speed measurement",
        )
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _child_pid(name: str) -> int | None:
    """The pid of this process's child whose executable is ``name`` (a server it started)."""
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if Path(child.exe()).name == name or child.name() == name:
                return int(child.pid)
    return None
