"""Controller and dispatcher as separate processes: tokens, loopback, controller outages,
the ack stream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from jobqueue.contract import BrokerContext, Delivery
from jobqueue.models import AckMessage
from jobqueue.plugins import load_brokers
from jobqueue.testing.processes import ServiceProcess
from tests.e2e.conftest import Api

ADMIN = "admin-secret-token"
WORKER = "worker-secret-token"


class Split:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = f"sqlite:///{root / 'controller.db'}"
        self.controller = self._controller()
        self.dispatcher = ServiceProcess(
            root, "dispatcher",
            "--controller", self.controller.url, "--controller-token", ADMIN,
            "--token", WORKER, "--data-dir", str(root / "data"), "--sync-interval", "0.2",
            "--lease-margin-ms", "1000",
        )  # fmt: skip

    def _controller(self, port: int | None = None) -> ServiceProcess:
        return ServiceProcess(
            self.root, "controller", "--db", self.db, "--token", ADMIN, "--dispatcher-ttl", "30",
            port=port,
        )  # fmt: skip


@pytest.fixture
def split(tmp_path: Path) -> Iterator[Split]:
    import subprocess
    import sys

    db = f"sqlite:///{tmp_path / 'controller.db'}"
    subprocess.run([sys.executable, "-m", "jobqueue", "migrate", "--db", db], check=True,
                   capture_output=True)  # fmt: skip
    services = Split(tmp_path)
    services.controller.start()
    services.dispatcher.start()
    yield services
    assert services.dispatcher.stop() == 0, services.dispatcher.log()
    services.controller.stop()


def _api(split: Split) -> Api:
    api = Api(split.controller.url, split.dispatcher.url)
    api.controller.headers["authorization"] = f"Bearer {ADMIN}"
    api.dispatcher.headers["authorization"] = f"Bearer {WORKER}"
    return api


def _job(api: Api, name: str, **fields: object) -> None:
    api.create_job(name, {"type": "sqlite", "config": {"topic": name}}, **fields)
    api.start_job(name)
    api.subscribe(name)


def test_dispatcher_token_is_enforced_and_health_stays_open(split: Split) -> None:
    """Without or with a wrong worker token: 401; with it: 200; /health needs none."""
    url = split.dispatcher.url
    body = {"name": "x"}
    assert httpx.post(f"{url}/api/v1/worker/subscribe", json=body).status_code == 401
    wrong = {"authorization": "Bearer nope"}
    response = httpx.post(f"{url}/api/v1/worker/subscribe", json=body, headers=wrong)
    assert response.status_code == 401 and "invalid bearer token" in response.json()["error"]
    assert httpx.get(f"{url}/health").status_code == 200
    api = _api(split)
    try:
        assert api.worker("subscribe", name="missing").status_code == 404  # authorized
    finally:
        api.close()


def test_dispatcher_binds_loopback_by_default(split: Split) -> None:
    """The dispatcher listens on 127.0.0.1 only unless told otherwise."""
    port_hex = f"{split.dispatcher.port:04X}"
    listening = [
        line.split()[1]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[1].endswith(f":{port_hex}") and line.split()[3] == "0A"
    ]
    assert listening == [f"0100007F:{port_hex}"]


def test_controller_outage_keeps_serving_and_recovers(split: Split) -> None:
    """Controller killed: publish/poll/ack still work, /ready says degraded and why;
    controller back on its port: /ready is ok again."""
    api = _api(split)
    try:
        _job(api, "outage")
        split.controller.kill()
        deadline = time.monotonic() + 10
        ready = api.dispatcher.get("/ready").json()
        while ready["status"] != "degraded" and time.monotonic() < deadline:
            time.sleep(0.1)
            ready = api.dispatcher.get("/ready").json()
        assert ready["status"] == "degraded"
        assert any("controller" in reason for reason in ready["reasons"])
        ids = api.publish("outage", [{"data": "still"}])
        assert [m["id"] for m in api.poll_until("outage", 1)] == ids
        assert api.ack("outage", ids)["bad_ids"] == []

        split.controller = split._controller(port=split.controller.port).start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ready = api.dispatcher.get("/ready").json()
            if ready["status"] == "ok":
                break
            time.sleep(0.1)
        assert ready["status"] == "ok", ready
    finally:
        api.close()


def test_ack_stream_gets_one_record_per_ack(split: Split) -> None:
    """A job with emit_acks writes {id, external_id, name, attempt} to <job>_ack on ack."""
    api = _api(split)
    try:
        _job(api, "acks", emit_acks=True)
        ids = api.publish("acks", [{"data": 1, "external_id": "e1", "name": "first"}])
        api.poll_until("acks", 1)
        assert api.ack("acks", ids)["bad_ids"] == []
    finally:
        api.close()
    registry = load_brokers()
    broker_cls = registry.get("sqlite")
    config = broker_cls.parse_config({"topic": "acks", "path": str(split.root / "data/broker.db")})
    broker = broker_cls(config, BrokerContext())
    consumer = broker.consumer("acks_ack", "reader")
    try:
        deadline = time.monotonic() + 10
        deliveries: list[Delivery] = []
        while not deliveries and time.monotonic() < deadline:
            deliveries = consumer.poll(10, 0.5)
    finally:
        consumer.close()
        broker.close()
    [record] = [msgspec.json.decode(d.payload, type=AckMessage) for d in deliveries]
    assert record == AckMessage(id=ids[0], external_id="e1", name="first", attempt=1)


def test_wrong_controller_token_is_a_clear_503(split: Split) -> None:
    """A dispatcher holding the wrong controller token answers subscribe with 503 naming the
    problem, not a bare 500."""
    wrong = ServiceProcess(
        split.root, "dispatcher", "--controller", split.controller.url,
        "--controller-token", "not-the-token", "--data-dir", str(split.root / "data2"),
    ).start()  # fmt: skip
    try:
        response = httpx.post(f"{wrong.url}/api/v1/worker/subscribe", json={"name": "any"})
        assert response.status_code == 503, response.text
        assert "401" in response.json()["error"]
        assert "--controller-token" in response.json()["error"]
    finally:
        assert wrong.stop() == 0


def test_a_message_held_elsewhere_is_not_handed_out_twice(split: Split) -> None:
    """Two dispatchers share one embedded broker file. The second reads the message ahead
    into its buffer but no worker polls it there; once its lease ran out the first dispatcher
    hands it out, and the worker extends it past the broker lease. The second then hands out
    neither its stale buffered copy nor the record, and the first's ack settles it for both."""
    second = ServiceProcess(split.root, "dispatcher", *split.dispatcher.args).start()
    api = _api(split)
    other = Api(split.controller.url, second.url)
    other.dispatcher.headers["authorization"] = f"Bearer {WORKER}"
    try:
        api.create_job("shared", {"type": "sqlite", "config": {"topic": "shared"}},
                       max_processing_time_ms=1000)  # fmt: skip
        api.start_job("shared")
        other.subscribe("shared")
        [msg_id] = other.publish("shared", [{"data": "long"}])
        time.sleep(0.5)  # the second's receiver reads it within milliseconds
        api.subscribe("shared")
        started = time.monotonic()
        [held] = api.poll_until("shared", 1)
        # it came only once the second's lease (1 s + 1 s margin) ran out: that one had read it
        assert time.monotonic() - started > 1.0
        assert held["id"] == msg_id
        assert api.worker("extend", name="shared", msg_ids=[msg_id], extend_ms=8000).json() == {
            "failed_ids": [], "bad_ids": [], "error": ""
        }  # fmt: skip
        deadline = time.monotonic() + 5.0  # the first's broker lease would run out meanwhile
        while time.monotonic() < deadline:
            assert other.poll("shared", max_wait_ms=500) == []
        assert api.ack("shared", [msg_id])["bad_ids"] == []
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            assert other.poll("shared", max_wait_ms=500) == []
            assert api.poll("shared", max_wait_ms=0) == []
    finally:
        api.close()
        other.close()
        assert second.stop() == 0, second.log()
