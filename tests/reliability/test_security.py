"""Security of the running services: the admin token on every controller route, the worker
token on every dispatcher route, and broker secrets that never reach a response or a log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobqueue.contract import REDACTED
from jobqueue.web.auth import OPEN_PATHS
from jobqueue_redis.testserver import RedisServer
from tests.e2e.conftest import Api
from tests.reliability.cluster import ADMIN_TOKEN, Cluster
from tests.reliability.conftest import kafka_config

WORKER_TOKEN = "reliability-worker-token"
REDIS_PASSWORD = "redis-Pa55word-that-must-not-leak"
WRONG_PASSWORD = "wrong-Pa55word-that-must-not-leak"
SASL_PASSWORD = "sasl-Pa55word-that-must-not-leak"
SECRETS = (REDIS_PASSWORD, WRONG_PASSWORD, SASL_PASSWORD, ADMIN_TOKEN, WORKER_TOKEN)


def operations(url: str) -> list[tuple[str, str]]:
    """(method, path) of every operation the service's OpenAPI document lists."""
    document = httpx.get(f"{url}/openapi.json").json()
    return [(m.upper(), p) for p, item in document["paths"].items() for m in item]


SAMPLE_BODIES: dict[str, Any] = {
    "/api/v1/job/": {
        "name": "sneaky", "type": "producer", "max_processing_time_ms": 1000,
        "queue_config": {"type": "sqlite", "config": {"topic": "sneaky"}},
    },
    "/api/v1/job/{name}/": {"description": "changed without a token"},
    "/api/v1/dispatcher/register/": {"dispatcher_id": "intruder", "job_name": "guarded"},
    "/api/v1/dispatcher/deregister/": {"dispatcher_id": "intruder", "job_id": 1},
    "/api/v1/dispatcher/gossip/": {"dispatcher_id": "intruder"},
}  # fmt: skip


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, log_level="debug")
    yield cluster
    cluster.close()


def test_every_controller_operation_but_the_open_ones_needs_the_admin_token(
    cluster: Cluster,
) -> None:
    """Walks the controller's own OpenAPI document: every operation outside /health, /ready,
    /metrics and /openapi.json answers 401 without the token, with a wrong one or without
    the scheme (with and without the trailing slash); valid requests sent that way change
    nothing; with the token, none is a 401."""
    url = cluster.controller.url
    admin = httpx.Client(base_url=url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    guarded = {**SAMPLE_BODIES["/api/v1/job/"], "name": "guarded"}
    assert admin.post("/api/v1/job/", json=guarded).status_code == 200

    def state() -> list[Any]:
        return [
            admin.get("/api/v1/job/?state=" + s).json() for s in ("active", "stopped", "archived")
        ] + [admin.get("/api/v1/dispatcher/").json()]

    before = state()
    ops = operations(url)
    mutations = [(m, p) for m, p in ops if m in ("POST", "PUT", "DELETE")]
    assert len(mutations) >= 8, mutations  # create, update, archive, start, stop, 3 dispatcher
    guarded_ops = [(m, p) for m, p in ops if p not in OPEN_PATHS]
    assert set(mutations) <= set(guarded_ops)
    for method, template in guarded_ops:
        path = template.replace("{name}", "guarded")
        for variant in {path, path.rstrip("/")}:
            for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": ADMIN_TOKEN}):
                response = httpx.request(
                    method, url + variant, json=SAMPLE_BODIES.get(template), headers=headers
                )
                assert response.status_code == 401, (method, variant, headers, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
                assert ADMIN_TOKEN not in response.text
    assert state() == before, "a request without the token changed something"

    for method, template in guarded_ops:
        body = SAMPLE_BODIES.get(template)
        if template == "/api/v1/job/":
            body = {**SAMPLE_BODIES[template], "name": "allowed"}
        allowed = admin.request(method, template.replace("{name}", "guarded"), json=body)
        assert allowed.status_code != 401, (method, template, allowed.text)
    assert admin.get("/api/v1/job/allowed/").status_code == 200
    for path in OPEN_PATHS:
        assert httpx.get(url + path).status_code == 200, path
    admin.close()


def test_every_dispatcher_operation_but_the_open_ones_needs_the_worker_token(
    cluster: Cluster,
) -> None:
    """With --token, every worker operation of the dispatcher's document is 401 without it."""
    dispatcher = cluster.dispatcher("--token", WORKER_TOKEN)
    ops = operations(dispatcher.url)
    guarded = [(m, p) for m, p in ops if p not in OPEN_PATHS]
    assert len(guarded) >= 10, guarded
    for method, path in guarded:
        for headers in ({}, {"authorization": "Bearer nope"}):
            response = httpx.request(
                method, dispatcher.url + path, json={"name": "x"}, headers=headers
            )
            assert response.status_code == 401, (path, response.text)
        allowed = httpx.request(
            method, dispatcher.url + path, json={"name": "x"},
            headers={"authorization": f"Bearer {WORKER_TOKEN}"},
        )  # fmt: skip
        assert allowed.status_code != 401, (path, allowed.text)
    for path in OPEN_PATHS:
        assert httpx.get(dispatcher.url + path).status_code == 200, path


class Recorder:
    """Keeps the text of every response a client receives."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.bodies.append(f"{response.request.method} {response.request.url}: {response.text}")

    def attach(self, api: Api) -> Api:
        for client in (api.controller, api.dispatcher):
            client.event_hooks["response"] = [self]
        return api


def test_no_secret_in_any_response_or_log_line(
    cluster: Cluster, tmp_path: Path, kafka_address: str
) -> None:
    """Jobs whose queue configs hold a Redis password (right and wrong) and a SASL password
    go through create, read, update, subscribe, publish, poll, ack, nack, DLQ, a broker outage
    and a failed connection, with both services logging at debug: neither any response body
    nor any line of either process's log contains a password or a token."""
    (tmp_path / "redis").mkdir()
    server = RedisServer(password=REDIS_PASSWORD, directory=tmp_path / "redis")
    server.start()
    dispatcher = cluster.dispatcher()
    recorder = Recorder()
    api = recorder.attach(cluster.api(dispatcher))
    try:
        _lifecycle_with_secrets(cluster, api, server, kafka_address)
    finally:
        api.close()
        problems = cluster.close()
        server.close()
    logs = cluster.logs()
    responses = "\n".join(recorder.bodies)
    assert '"subscribed"' in logs and '"level": "debug"' in logs, "logs were not captured"
    assert "poll failed" in logs, "the broker outage was not logged"
    assert REDACTED in responses
    for secret in SECRETS:
        assert secret not in responses, f"{secret!r} in a response:\n{_around(responses, secret)}"
        assert secret not in logs, f"{secret!r} in a log line:\n{_around(logs, secret)}"
    assert not problems, problems


def _lifecycle_with_secrets(
    cluster: Cluster, api: Api, server: RedisServer, kafka_address: str
) -> None:
    redis_job = {"type": "redis", "config": {"url": server.url, "stream": "secret"}}
    assert REDIS_PASSWORD in server.url
    cluster.create_job(api, "secret", redis_job, error_policy={"repeat_count": 1})
    api.controller.get("/api/v1/job/secret/")
    api.controller.get("/api/v1/job/")
    api.update_job("secret", description="v2")
    api.controller.get("/api/v1/job/secret/versions/")
    api.subscribe("secret")
    ids = api.publish("secret", [{"data": "a"}, {"data": "b"}, {"data": "c"}])
    msgs = api.poll_until("secret", 3)
    api.ack("secret", [ids[0]])
    api.nack("secret", [ids[1], ids[2]])
    retried = api.poll_until("secret", 2, path="messages/retry", retry_queue=0)
    api.nack("secret", [m["id"] for m in retried])  # second failure: to the DLQ
    dead = api.poll_until("secret", 2, path="messages/dlq")
    api.ack("secret", [m["id"] for m in dead])
    assert len(msgs) == 3

    wrong = server.url.replace(REDIS_PASSWORD, WRONG_PASSWORD)
    cluster.create_job(api, "wrong", {"type": "redis", "config": {"url": wrong, "stream": "w"}})
    refused = api.worker("subscribe", name="wrong")
    assert refused.status_code == 503 and "redis" in refused.json()["error"], refused.text

    kafka = kafka_config(kafka_address)("sasl")
    kafka["config"]["config"].update(
        {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "svc",
            "sasl.password": SASL_PASSWORD,
        }
    )
    cluster.create_job(api, "sasl", kafka)
    api.controller.get("/api/v1/job/sasl/")
    sasl = api.worker("subscribe", name="sasl")
    # Tansu speaks no SASL: the plugin's connection error path runs with the password loaded.
    assert sasl.status_code == 503 and "kafka" in sasl.json()["error"], sasl.text

    server.stop(kill=True)  # an outage while subscribed: errors in logs, /ready, replies
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        ready = api.dispatcher.get("/ready").json()
        if any("secret" in reason for reason in ready["reasons"]):
            break
        time.sleep(0.2)
    assert any("secret" in reason for reason in ready["reasons"]), ready
    down = api.worker("publish", name="secret", msgs=[{"data": "during the outage"}])
    assert down.status_code == 503, down.text
    server.start()
    api.dispatcher.get("/metrics")
    api.controller.get("/metrics")


def _around(text: str, secret: str) -> str:
    at = text.index(secret)
    return text[max(0, at - 300) : at + 100]
