"""The HTTP plumbing shared by both services (`jobqueue.web`), on a tiny Starlette app.

Most tests drive the app in-process through httpx's ASGITransport; the body-limit and auth
tests also run it under uvicorn and talk to it over a real socket, as workers do.
"""

from __future__ import annotations

import inspect
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import msgspec
import pytest
import uvicorn
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from jobqueue import errors, models
from jobqueue.models import PollRequest
from jobqueue.web.auth import BearerTokenMiddleware
from jobqueue.web.body import read_body, read_json
from jobqueue.web.errors import EXCEPTION_HANDLERS, STATUS, status_for
from jobqueue.web.openapi import Operation, build_openapi
from jobqueue.web.responses import json_response

LIMIT = 1024
TOKEN = "s3cret-token-value"
SECRET_IN_EXCEPTION = "password=hunter2"

# -- every error type, built from its constructor's parameter names ------------------------

SAMPLE_ARGS: dict[str, Any] = {
    "message": "something went wrong",
    "field": "msgs[0].id",
    "reason": "Expected `int`, got `str`",
    "name": "orders",
    "state": "archived",
    "action": "start",
    "limit": LIMIT,
    "in_flight": 11,
    "broker": "kafka",
    "address": "k1:9092",
    "failed": [1, 3],
    "first": "jobqueue",
    "second": "acme-jobqueue",
    "installed": ["sqlite", "kafka"],
}


def error_types() -> list[type[errors.JobQueueError]]:
    """Every error class `jobqueue.errors` defines."""
    found = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.JobQueueError)
    ]
    return sorted(found, key=lambda cls: cls.__name__)


def build_error(cls: type[errors.JobQueueError]) -> errors.JobQueueError:
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    missing = [p for p in params if p not in SAMPLE_ARGS]
    assert not missing, f"add sample values for {cls.__name__}({', '.join(missing)})"
    return cls(**{p: SAMPLE_ARGS[p] for p in params})


# The statuses the API promises (DESIGN.md, errors.py); STATUS must agree with these.
EXPECTED_STATUS: dict[str, int] = {
    "JobQueueError": 500,
    "InvalidInput": 400,
    "Unauthorized": 401,
    "NotFound": 404,
    "JobNotFound": 404,
    "NotSubscribed": 404,
    "Conflict": 409,
    "JobExists": 409,
    "InvalidTransition": 409,
    "PayloadTooLarge": 413,
    "ServiceUnavailable": 503,
    "JobStopped": 503,
    "BackPressure": 503,
    "ControllerUnavailable": 503,
    "BrokerUnavailable": 503,
    "PublishFailed": 503,
    "BrokerConfigError": 400,
    "PluginError": 500,
    "DuplicateBroker": 500,
    "UnknownBroker": 400,
}

# -- the tiny app --------------------------------------------------------------------------


async def raise_named_error(request: Request) -> Response:
    cls = getattr(errors, request.path_params["name"])
    raise build_error(cls)


async def raise_with_failed_ids(request: Request) -> Response:
    exc = errors.BrokerUnavailable("kafka", "k1:9092", "timed out")
    exc.failed_ids = [7, 9]  # type: ignore[attr-defined]
    raise exc


async def crash(request: Request) -> Response:
    raise RuntimeError(f"cannot connect with {SECRET_IN_EXCEPTION}")


async def poll(request: Request) -> Response:
    body = await read_json(request, PollRequest, LIMIT)
    return json_response(body)


async def size(request: Request) -> Response:
    body = await read_body(request, LIMIT)
    return json_response(
        {"size": len(body), "content_length": request.headers.get("content-length")}
    )


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


def make_app(token: str | None = None) -> Starlette:
    return Starlette(
        routes=[
            Route("/error/{name}", raise_named_error, methods=["POST"]),
            Route("/error-with-ids", raise_with_failed_ids, methods=["POST"]),
            Route("/crash", crash, methods=["POST"]),
            Route("/poll", poll, methods=["POST"]),
            Route("/size", size, methods=["POST"]),
            Route("/health", health),
        ],
        middleware=[Middleware(BearerTokenMiddleware, token=token)],
        exception_handlers=EXCEPTION_HANDLERS,
    )


class AppClient:
    """Synchronous requests to an ASGI app in this process, through httpx's ASGITransport."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
                return await http.request(method, path, **kwargs)

        return anyio.run(send)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


@pytest.fixture
def client() -> AppClient:
    return AppClient(make_app())


@pytest.fixture
def secured() -> AppClient:
    return AppClient(make_app(TOKEN))


def chunks(total: int, size: int = 100) -> Iterator[bytes]:
    """A request body without Content-Length (sent chunked)."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b" " * part


async def achunks(total: int, size: int = 100) -> AsyncIterator[bytes]:
    """`chunks` for the async transport."""
    for part in chunks(total, size):
        yield part


# -- error mapping -------------------------------------------------------------------------


def test_every_error_type_has_a_promised_status() -> None:
    """Each error class in `jobqueue.errors` is listed here, and STATUS agrees with the list."""
    names = {cls.__name__ for cls in error_types()}
    assert names == set(EXPECTED_STATUS)
    for cls in error_types():
        assert status_for(build_error(cls)) == EXPECTED_STATUS[cls.__name__], cls.__name__
    assert set(STATUS) <= set(error_types())


@pytest.mark.parametrize("cls", error_types(), ids=lambda cls: cls.__name__)
def test_error_maps_to_status_and_json_body(
    client: AppClient, cls: type[errors.JobQueueError]
) -> None:
    """A raised error becomes its status with a JSON body ``{error, code, field}``."""
    exc = build_error(cls)
    response = client.post(f"/error/{cls.__name__}")
    assert response.status_code == EXPECTED_STATUS[cls.__name__]
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == exc.message
    assert body["code"] == exc.code
    assert body.get("field") == (getattr(exc, "field", None) or None)
    assert set(body) <= {"error", "code", "field", "failed_ids"}
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def test_error_messages_name_what_failed() -> None:
    """Broker errors name broker and address; field errors name the field."""
    unavailable = build_error(errors.BrokerUnavailable)
    assert "kafka" in str(unavailable) and "k1:9092" in str(unavailable)
    assert "`msgs[0].id`" in str(build_error(errors.InvalidInput))
    assert "`msgs[0].id`" in str(build_error(errors.BrokerConfigError))
    assert "sqlite" in str(build_error(errors.UnknownBroker))


def test_failed_ids_on_an_error_reach_the_body(client: AppClient) -> None:
    """An error carrying ``failed_ids`` (a partly failed ack) returns them to the worker."""
    response = client.post("/error-with-ids")
    assert response.status_code == 503
    assert response.json()["failed_ids"] == [7, 9]
    assert response.json()["code"] == "broker_unavailable"


def test_unknown_route_is_json_404(client: AppClient) -> None:
    """A path no route serves is a JSON 404 naming the method and path."""
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "no route GET /no/such/route"


def test_wrong_method_is_json_405(client: AppClient) -> None:
    """A known path with the wrong method is a JSON 405 with an Allow header."""
    response = client.get("/poll")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json"
    assert "POST" in response.headers["allow"]
    assert response.json()["error"]


def test_unexpected_exception_is_json_500_without_traceback(
    client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug becomes a JSON 500 naming only the exception type; the log keeps the traceback."""
    with caplog.at_level(logging.ERROR, logger="jobqueue.web.errors"):
        response = client.post("/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert "RuntimeError" in body["error"]
    assert "code" in body, "every error body carries a code"
    assert "Traceback" not in response.text
    assert SECRET_IN_EXCEPTION not in response.text
    assert "test_web.py" not in response.text
    logged = [r for r in caplog.records if r.exc_info]
    assert logged, "the traceback must reach the server log"
    assert logged[0].exc_info is not None and logged[0].exc_info[0] is RuntimeError


# -- bodies --------------------------------------------------------------------------------


def test_body_within_limit_is_decoded(client: AppClient) -> None:
    """A valid JSON body within the limit is decoded into its model."""
    response = client.post("/poll", json={"name": "orders", "max_wait_ms": 10})
    assert response.status_code == 200
    assert response.json() == {"name": "orders", "max_wait_ms": 10, "max_messages": 10}


def test_body_exactly_at_limit_is_accepted(client: AppClient) -> None:
    """A body of exactly the limit is accepted, with and without Content-Length."""
    response = client.post("/size", content=b" " * LIMIT)
    assert response.json() == {"size": LIMIT, "content_length": str(LIMIT)}
    response = client.post("/size", content=achunks(LIMIT))
    assert response.json() == {"size": LIMIT, "content_length": None}


def test_declared_body_over_limit_is_413(client: AppClient) -> None:
    """A Content-Length above the limit is refused with 413 before the body is read."""
    response = client.post("/poll", content=b" " * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert str(LIMIT) in response.json()["error"]


def test_chunked_body_over_limit_is_413(client: AppClient) -> None:
    """A body sent without Content-Length is cut off with 413 once it passes the limit."""
    response = client.post("/poll", content=achunks(LIMIT * 50))
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


@pytest.mark.parametrize("body", [b"", b"   "], ids=["empty", "blank"])
def test_empty_body_is_400(client: AppClient, body: bytes) -> None:
    """An empty (or blank) body is a 400 asking for a JSON object, not a 500."""
    response = client.post("/poll", content=body)
    assert response.status_code == 400
    reply = response.json()
    assert reply["code"] == "invalid_input"
    assert "JSON" in reply["error"]
    assert reply.get("field") is None


def test_malformed_body_is_400(client: AppClient) -> None:
    """Malformed JSON is a 400 that says so."""
    response = client.post("/poll", content=b'{"name": ')
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]
    assert response.json().get("field") is None


def test_bad_field_is_400_naming_it(client: AppClient) -> None:
    """A field error is a 400 whose body names the field."""
    response = client.post("/poll", json={"name": "orders", "max_wait_ms": -1})
    assert response.status_code == 400
    assert response.json()["field"] == "max_wait_ms"
    assert "`max_wait_ms`" in response.json()["error"]


def asgi_call(app: Starlette, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
    """One raw ASGI request (headers exactly as given); the response status and JSON."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/size",
        "raw_path": b"/size",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    async def run() -> None:
        await app(scope, receive, send)

    anyio.run(run)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {"status": status, "json": json.loads(payload)}


def test_non_numeric_content_length_is_400() -> None:
    """A Content-Length that is not a number is a 400 naming the header."""
    reply = asgi_call(make_app(), [(b"content-length", b"lots")], b"{}")
    assert reply["status"] == 400
    assert reply["json"]["field"] == "Content-Length"


def test_understated_content_length_is_still_limited() -> None:
    """A body larger than its (lying) Content-Length is still cut off at the limit."""
    reply = asgi_call(make_app(), [(b"content-length", b"2")], b" " * (LIMIT + 1))
    assert reply["status"] == 413


# -- bearer token --------------------------------------------------------------------------


def test_without_a_token_everything_is_open(client: AppClient) -> None:
    """With no token configured, requests pass with or without credentials."""
    assert client.post("/size", content=b"x").status_code == 200
    assert client.post("/size", content=b"x", headers=bearer("anything")).status_code == 200


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_required_without_credentials(secured: AppClient) -> None:
    """With a token configured, a request without one is a JSON 401 with WWW-Authenticate."""
    response = secured.post("/size", content=b"x")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthorized"
    assert "missing bearer token" in response.json()["error"]


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer ",
        f"Basic {TOKEN}",
        TOKEN,
        f"Bearer{TOKEN}",
    ],
    ids=["longer", "prefix", "empty", "basic-scheme", "no-scheme", "no-space"],
)
def test_wrong_token_is_401(secured: AppClient, header: str) -> None:
    """A wrong token, a prefix of the right one, or another scheme is a 401."""
    response = secured.post("/size", content=b"x", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert TOKEN not in response.text


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_right_token_passes(secured: AppClient, scheme: str) -> None:
    """The right token passes, whatever the case of the scheme word."""
    response = secured.post("/size", content=b"x", headers={"Authorization": f"{scheme} {TOKEN}"})
    assert response.status_code == 200
    assert response.json()["size"] == 1


def test_health_is_open_with_a_token(secured: AppClient) -> None:
    """Health stays open so probes work without credentials."""
    assert secured.get("/health").status_code == 200
    assert secured.get("/health", headers=bearer("wrong")).status_code == 200


def test_auth_runs_before_routing(secured: AppClient) -> None:
    """Without credentials, even unknown routes answer 401, so paths do not leak."""
    assert secured.get("/no/such/route").status_code == 401
    assert secured.get("/no/such/route", headers=bearer(TOKEN)).status_code == 404


# -- over a real socket --------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The secured app under uvicorn on a free local port; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(TOKEN), log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn exited while starting"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


def test_real_server_auth_and_body(served: str) -> None:
    """Over TCP: 401 without a token, 200 with it, health open, JSON 400 for bad input."""
    with httpx.Client(base_url=served, timeout=10) as http:
        assert http.post("/size", content=b"abc").status_code == 401
        ok = http.post("/size", content=b"abc", headers=bearer(TOKEN))
        assert ok.json() == {"size": 3, "content_length": "3"}
        assert http.get("/health").status_code == 200
        bad = http.post("/poll", content=b"{", headers=bearer(TOKEN))
        assert bad.status_code == 400
        assert "malformed JSON" in bad.json()["error"]


def test_real_server_limits_declared_and_chunked_bodies(served: str) -> None:
    """Over TCP: bodies over the limit get 413 with Content-Length and when sent chunked."""
    with httpx.Client(base_url=served, timeout=10, headers=bearer(TOKEN)) as http:
        declared = http.post("/poll", content=b" " * (LIMIT + 1))
        assert declared.status_code == 413
        chunked = http.post("/poll", content=chunks(LIMIT * 4))
        assert chunked.status_code == 413
        assert chunked.json()["code"] == "payload_too_large"
        under = http.post("/size", content=chunks(LIMIT - 1))
        assert under.json() == {"size": LIMIT - 1, "content_length": None}


# -- OpenAPI -------------------------------------------------------------------------------

OPERATIONS = [
    Operation("POST", "/api/v1/job/", "Create", models.JobCreate, models.JobReply, (400, 409)),
    Operation(
        "GET", "/api/v1/job/{name}/", "Get a job", None, models.JobReply, (404,), params=("name",)
    ),
    Operation(
        "POST", "/api/v1/job/{name}/", "Update", models.JobUpdate, models.JobReply, (400, 404),
        params=("name",),
    ),
    Operation("GET", "/api/v1/jobs", "List", None, models.JobListReply, params=("state",)),
    Operation("POST", "/api/v1/worker/messages", "Poll", models.PollRequest, models.MessagesReply,
              (400, 404, 503)),
    Operation("POST", "/api/v1/worker/messages/retry", "Poll retry", models.RetryPollRequest,
              models.MessagesReply, (400, 404, 503)),
    Operation("POST", "/api/v1/worker/messages/dlq", "Poll DLQ", models.PollRequest,
              models.DLQMessagesReply),
    Operation("POST", "/api/v1/worker/ack", "Ack", models.IdsRequest, models.IdsReply, (400, 404)),
    Operation("POST", "/api/v1/worker/extend", "Extend", models.ExtendRequest, models.IdsReply),
    Operation("POST", "/api/v1/worker/publish", "Publish", models.PublishRequest,
              models.PublishReply, (400, 413, 503)),
    Operation("POST", "/api/v1/worker/messages/dlq/redrive", "Redrive", models.RedriveRequest,
              models.RedriveReply),
    Operation("POST", "/api/v1/dispatcher/register/", "Register", models.RegisterRequest,
              models.JobReply),
    Operation("POST", "/api/v1/dispatcher/deregister/", "Deregister", models.DeregisterRequest),
    Operation("POST", "/api/v1/dispatcher/gossip/", "Gossip", models.GossipRequest,
              models.GossipReply),
    Operation("GET", "/metrics", "Metrics", None, None, content_type="text/plain"),
    Operation("GET", "/health", "Health"),
]  # fmt: skip


def test_openapi_document_is_valid_openapi_3_1() -> None:
    """The builder's output over every wire model passes the OpenAPI 3.1 validator."""
    document = build_openapi("jobqueue test", "1.2.3", OPERATIONS)
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["openapi"].startswith("3.1")
    assert document["info"] == {"title": "jobqueue test", "version": "1.2.3"}


def test_openapi_document_describes_every_operation() -> None:
    """Each operation appears once with its request, response and error schemas."""
    document = build_openapi("t", "1", OPERATIONS)
    ids = [op["operationId"] for path in document["paths"].values() for op in path.values()]
    assert len(ids) == len(OPERATIONS) == len(set(ids))
    poll = document["paths"]["/api/v1/worker/messages"]["post"]
    assert poll["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PollRequest"
    }
    assert set(poll["responses"]) == {"200", "400", "404", "500", "503"}
    error_schema = document["components"]["schemas"]["ErrorReply"]
    assert {"error", "code", "field"} <= set(error_schema["properties"])
    get_job = document["paths"]["/api/v1/job/{name}/"]["get"]
    assert get_job["parameters"][0] == {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }


def test_openapi_schemas_keep_wire_field_names_and_bounds() -> None:
    """Component schemas use the wire names and carry the models' bounds."""
    schemas = build_openapi("t", "1", OPERATIONS)["components"]["schemas"]
    message = schemas["Message"]["properties"]
    assert set(message) == {
        "id", "external_id", "name", "description", "idempotent", "data", "error_policy",
        "attempt",
    }  # fmt: skip
    assert message["id"]["maximum"] == models.MAX_SAFE_ID
    assert schemas["JobCreate"]["properties"]["name"]["pattern"] == "^[A-Za-z0-9._-]+$"
    assert schemas["PollRequest"]["required"] == ["name"]


def test_json_response_encodes_structs_once() -> None:
    """`json_response` writes compact JSON with the JSON media type and the given status."""
    response = json_response(models.IdsReply(failed_ids=[1], bad_ids=[], error=""), status=207)
    assert response.status_code == 207
    assert response.media_type == "application/json"
    assert msgspec.json.decode(response.body) == {"failed_ids": [1], "bad_ids": [], "error": ""}
