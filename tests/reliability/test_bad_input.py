"""Hostile and broken requests to a live `jobqueue dev`: each gets its 4xx, quickly, and the
process keeps serving (no 500, no crash, no hang, no 'unexpected error' in its log)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobqueue.models import MAX_SAFE_ID
from jobqueue.testing.processes import DevStack
from tests.e2e.conftest import DEV_ARGS, Api

JOB = "hostile"
BODY_LIMIT = 1024 * 1024
W = "/api/v1/worker"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    stack = DevStack(
        tmp_path_factory.mktemp("bad-input"), *DEV_ARGS,
        "--max-body-bytes", str(BODY_LIMIT), "--max-in-flight", "5000",
    ).start()  # fmt: skip
    api = Api(stack.controller_url, stack.dispatcher_url)
    api.create_job(JOB, {"type": "sqlite", "config": {"topic": JOB}})
    api.start_job(JOB)
    api.subscribe(JOB)
    api.close()
    yield stack
    code = stack.stop()
    log = stack.log()
    assert code == 0, log
    assert "unexpected error" not in log and "Traceback" not in log, log


@pytest.fixture
def api(dev: DevStack) -> Iterator[Api]:
    client = Api(dev.controller_url, dev.dispatcher_url)
    yield client
    client.close()


def on_job(fields: bytes) -> bytes:
    """A worker request body about the test's job with ``fields`` (raw JSON) added."""
    return b'{"name": "%s", %s}' % (JOB.encode(), fields)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def send(client: httpx.Client, method: str, path: str, body: bytes) -> httpx.Response:
    """Raw bytes as a JSON request; the reply must come within 10 s and be a JSON error
    or success."""
    started = time.monotonic()
    response = client.request(
        method, path, content=body, headers={"content-type": "application/json"}, timeout=10
    )
    assert time.monotonic() - started < 10
    assert response.headers["content-type"] == "application/json"
    return response


def still_serving(dev: DevStack) -> None:
    assert dev.process is not None and dev.process.poll() is None, dev.log()
    for url in (dev.controller_url, dev.dispatcher_url):
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200


@pytest.mark.parametrize("depth", [100_000, 5_000, 1_100])
def test_deeply_nested_json_is_a_400_everywhere(dev: DevStack, api: Api, depth: int) -> None:
    """100k (and fewer) nested arrays in a message's data, a queue config or a bare body:
    400 'nested too deeply', never a 500 or a dead process."""
    deep = nested(depth)
    create = (
        b'{"name": "deep", "type": "producer", "max_processing_time_ms": 1, '
        b'"queue_config": {"type": "sqlite", "config": {"topic": %s}}}' % deep
    )
    cases = [
        (api.dispatcher, "POST", f"{W}/publish", on_job(b'"msgs": [{"data": %s}]' % deep)),
        (api.dispatcher, "POST", f"{W}/ack", on_job(b'"msg_ids": %s' % deep)),
        (api.controller, "POST", "/api/v1/job/", create),
        (api.controller, "POST", f"/api/v1/job/{JOB}/", b'{"description": %s}' % deep),
        (api.controller, "POST", "/api/v1/dispatcher/gossip/", b'{"dispatcher_id": %s}' % deep),
    ]
    for client, method, path, body in cases:
        response = send(client, method, path, body)
        assert response.status_code == 400, (path, response.text)
        if path in (f"{W}/publish", "/api/v1/job/"):  # free-form JSON: decoded to the bottom
            assert "nested too deeply" in response.json()["error"], (path, response.text)
    still_serving(dev)


def test_nesting_that_fits_is_carried_byte_for_byte(dev: DevStack, api: Api) -> None:
    """Data nested 500 deep is accepted, delivered unchanged and acked."""
    data = nested(500)
    body = on_job(b'"msgs": [{"data": %s}]' % data)
    response = send(api.dispatcher, "POST", f"{W}/publish", body)
    assert response.status_code == 200, response.text
    [msg_id] = response.json()["ids"]
    raw = api.dispatcher.post(f"{W}/messages", json={"name": JOB, "max_wait_ms": 2000}).content
    assert data in raw and str(msg_id).encode() in raw
    assert api.ack(JOB, [msg_id])["bad_ids"] == []
    still_serving(dev)


INVALID = [
    (f"{W}/publish", on_job(b'"msgs": [{"data": "\xff\xfe"}]'), "msgs[0]"),
    (f"{W}/publish", on_job(b'"msgs": [{"data": {"k": ["\xed\xa0\x80"]}}]'), "msgs[0]"),
    (f"{W}/subscribe", b'{"name": "\xc3\x28"}', ""),
    (f"{W}/subscribe", b"\x00\x01\x02", ""),
    (f"{W}/subscribe", b'{"name": 5}', "name"),
    (f"{W}/subscribe", b'{"name": "a b"}', "name"),
    (f"{W}/subscribe", b'{"name": "../../etc/passwd"}', "name"),
    (f"{W}/subscribe", b'{"name": "' + b"x" * 101 + b'"}', "name"),
    (f"{W}/subscribe", b'{"name": ""}', "name"),
    (f"{W}/subscribe", b"[]", ""),
    (f"{W}/subscribe", b'"name"', ""),
    (f"{W}/messages", on_job(b'"max_wait_ms": -1'), "max_wait_ms"),
    (f"{W}/messages", on_job(b'"max_wait_ms": 1e309'), "max_wait_ms"),
    (f"{W}/messages", on_job(b'"max_messages": 0'), "max_messages"),
    (f"{W}/messages", on_job(b'"max_messages": "10"'), "max_messages"),
    (f"{W}/messages/retry", on_job(b'"retry_queue": 99'), "retry_queue"),
    (f"{W}/ack", on_job(b'"msg_ids": "1"'), "msg_ids"),
    (f"{W}/ack", on_job(b'"msg_ids": [-1]'), "msg_ids[0]"),
    (f"{W}/ack", on_job(b'"msg_ids": [%d]' % (MAX_SAFE_ID + 1)), "msg_ids[0]"),
    (f"{W}/ack", on_job(b'"msg_ids": [1.5]'), "msg_ids[0]"),
    (f"{W}/ack", on_job(b'"msg_ids": [], "extra": 1'), "extra"),
    (f"{W}/extend", on_job(b'"msg_ids": [1], "extend_ms": 0'), "extend_ms"),
    (f"{W}/publish", on_job(b'"msgs": []'), "msgs"),
    (f"{W}/publish", on_job(b'"msgs": [{"id": -5}]'), "msgs[0].id"),
    (f"{W}/publish", on_job(b'"msgs": [{"attempt": "x"}]'), "msgs[0].attempt"),
    (f"{W}/publish", on_job(b'"msgs": [{"data": NaN}]'), ""),
    (f"{W}/messages/dlq/redrive", on_job(b'"target": "dlq"'), "target"),
]


@pytest.mark.parametrize(("path", "body", "field"), INVALID)
def test_invalid_worker_requests_are_400_naming_the_field(
    dev: DevStack, api: Api, path: str, body: bytes, field: str
) -> None:
    """Invalid UTF-8, not JSON, not an object, wrong types, out of range, unknown fields,
    bad names: 400 with the field named."""
    response = send(api.dispatcher, "POST", path, body)
    assert response.status_code == 400, response.text
    assert response.json().get("field", "") == field, response.text


def test_unknown_jobs_and_ids_never_issued(dev: DevStack, api: Api) -> None:
    """An unknown job is a 404 on every worker route; ids never issued (or already acked)
    come back as bad_ids from ack, nack and extend, and the held ones still settle."""
    cases: list[tuple[str, dict[str, Any]]] = [
        ("subscribe", {}), ("unsubscribe", {}), ("messages", {}), ("messages/dlq", {}),
        ("messages/retry", {"retry_queue": 0}), ("ack", {"msg_ids": [1]}),
        ("nack", {"msg_ids": [1]}), ("publish", {"msgs": [{"data": 1}]}),
        ("extend", {"msg_ids": [1], "extend_ms": 10}), ("messages/dlq/redrive", {}),
    ]  # fmt: skip
    for path, extra in cases:
        response = api.worker(path, name="never-created", **extra)
        assert response.status_code == 404, (path, response.text)
        assert "never-created" in response.json()["error"]
    [real] = api.publish(JOB, [{"data": "real"}])
    assert [m["id"] for m in api.poll_until(JOB, 1)] == [real]
    never = [0, 1, 2**31, real + 1, MAX_SAFE_ID]
    for action, extra in [("ack", {}), ("nack", {}), ("extend", {"extend_ms": 1000})]:
        reply = api.worker(action, name=JOB, msg_ids=never, **extra).json()
        assert sorted(reply["bad_ids"]) == sorted(never), (action, reply)
    assert api.ack(JOB, [*never, real]) == {"failed_ids": [], "bad_ids": never, "error": ""}
    assert api.ack(JOB, [real])["bad_ids"] == [real]
    for action in ("start", "stop", "versions"):
        method = "GET" if action == "versions" else "PUT"
        response = api.controller.request(method, f"/api/v1/job/never-created/{action}/")
        assert response.status_code == 404, response.text


def test_batch_limits_are_1000_ids_and_1000_messages(dev: DevStack, api: Api) -> None:
    """1000 ids per ack/nack/extend and 1000 messages per publish pass; 1001 is a 400."""
    ids = list(range(1, 1001))
    assert len(api.ack(JOB, ids)["bad_ids"]) == 1000
    for action, extra in [("ack", {}), ("nack", {}), ("extend", {"extend_ms": 1})]:
        response = api.worker(action, name=JOB, msg_ids=[*ids, 1001], **extra)
        assert response.status_code == 400 and response.json()["field"] == "msg_ids", action
    published = api.publish(JOB, [{"data": i} for i in range(1000)])
    assert len(set(published)) == 1000
    response = api.worker("publish", name=JOB, msgs=[{"data": i} for i in range(1001)])
    assert response.status_code == 400 and response.json()["field"] == "msgs"
    response = api.worker("messages", name=JOB, max_messages=1001)
    assert response.status_code == 400 and response.json()["field"] == "max_messages"
    got: list[int] = []
    deadline = time.monotonic() + 30
    while len(got) < 1000 and time.monotonic() < deadline:
        got += [m["id"] for m in api.poll(JOB, max_wait_ms=500, max_messages=1000)]
    assert sorted(got) == sorted(published)
    assert api.ack(JOB, got)["bad_ids"] == []


@pytest.mark.parametrize("service", ["controller", "dispatcher"])
def test_oversized_bodies_are_413_declared_or_streamed(dev: DevStack, service: str) -> None:
    """A body over the limit is refused with 413 whether Content-Length says so or it is
    streamed in chunks without one; the service carries on."""
    url = dev.controller_url if service == "controller" else dev.dispatcher_url
    path = "/api/v1/job/" if service == "controller" else f"{W}/publish"
    limit = 1024 * 1024 if service == "controller" else BODY_LIMIT
    big = b'{"name": "x", "msgs": [{"data": "' + b"x" * limit + b'"}]}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    with httpx.Client(base_url=url, timeout=10) as client:
        declared = client.post(path, content=big, headers={"content-type": "application/json"})
        streamed = client.post(path, content=chunks(), headers={"content-type": "application/json"})
    assert declared.status_code == 413, declared.text
    assert streamed.status_code == 413, streamed.text
    assert "larger than the limit" in streamed.json()["error"]
    still_serving(dev)


def test_invalid_utf8_written_by_another_producer_goes_to_the_dlq(dev: DevStack, api: Api) -> None:
    """A record put on the topic behind the dispatcher's back with invalid UTF-8 in its data
    never reaches a poll reply (it would make the whole reply unreadable): it is
    dead-lettered as unable_to_decode, and the good record next to it is served."""
    from jobqueue.contract import BrokerContext, Record
    from jobqueue.plugins import load_brokers

    broker_cls = load_brokers().get("sqlite")
    broker = broker_cls(
        broker_cls.parse_config({"topic": JOB}), BrokerContext(data_dir=str(dev.data_dir))
    )
    poison = b'{"id": 77, "data": "\xff"}'
    producer = broker.producer(JOB)
    try:
        producer.publish([Record(poison), Record(b'{"id": 78, "data": "fine"}')])
    finally:
        producer.close()
        broker.close()
    assert [m["id"] for m in api.poll_until(JOB, 1)] == [78]
    assert api.ack(JOB, [78])["bad_ids"] == []
    [dead] = api.poll_until(JOB, 1, path="messages/dlq")
    assert dead["reason"] == "unable_to_decode"
    assert base64.b64decode(dead["raw_job"]) == poison
    assert api.ack(JOB, [dead["id"]])["bad_ids"] == []
