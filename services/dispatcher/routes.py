"""The worker API: thin handlers that decode, call the dispatcher and encode.

Paths and field names are the original service's (ORIGINAL_API.md); ``extend`` and
``messages/dlq/redrive`` are additions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from prometheus_client import generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobqueue.dispatcher.service import Dispatcher
from jobqueue.models import (
    DLQMessagesReply,
    ExtendRequest,
    IdsReply,
    IdsRequest,
    MessagesReply,
    NameRequest,
    PollRequest,
    PublishReply,
    PublishRequest,
    RedriveReply,
    RedriveRequest,
    RetryPollRequest,
)
from jobqueue.web.body import read_json
from jobqueue.web.openapi import Operation
from jobqueue.web.responses import json_response


class Empty(msgspec.Struct):
    """``{}``"""


class Readiness(msgspec.Struct):
    status: str
    reasons: list[str]
    jobs: list[str]


Handler = Callable[[Request], Awaitable[Response]]


def _dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


def _limit(request: Request) -> int:
    limit: int = request.app.state.body_limit
    return limit


async def subscribe(request: Request) -> Response:
    body = await read_json(request, NameRequest, _limit(request))
    await _dispatcher(request).subscribe(body.name)
    return json_response(Empty())


async def unsubscribe(request: Request) -> Response:
    body = await read_json(request, NameRequest, _limit(request))
    await _dispatcher(request).unsubscribe(body.name)
    return json_response(Empty())


async def messages(request: Request) -> Response:
    body = await read_json(request, PollRequest, _limit(request))
    msgs = await _dispatcher(request).poll(body.name, "main", body.max_messages, body.max_wait_ms)
    return json_response(MessagesReply(msgs))


async def retry_messages(request: Request) -> Response:
    body = await read_json(request, RetryPollRequest, _limit(request))
    queue = f"retry_{body.retry_queue}"
    msgs = await _dispatcher(request).poll(body.name, queue, body.max_messages, body.max_wait_ms)
    return json_response(MessagesReply(msgs))


async def dlq_messages(request: Request) -> Response:
    body = await read_json(request, PollRequest, _limit(request))
    msgs = await _dispatcher(request).poll_dlq(body.name, body.max_messages, body.max_wait_ms)
    return json_response(DLQMessagesReply(msgs))


async def ack(request: Request) -> Response:
    body = await read_json(request, IdsRequest, _limit(request))
    return json_response(await _dispatcher(request).settle(body.name, body.msg_ids, "ack"))


async def nack(request: Request) -> Response:
    body = await read_json(request, IdsRequest, _limit(request))
    return json_response(await _dispatcher(request).settle(body.name, body.msg_ids, "nack"))


async def extend(request: Request) -> Response:
    body = await read_json(request, ExtendRequest, _limit(request))
    reply = await _dispatcher(request).settle(body.name, body.msg_ids, "extend", body.extend_ms)
    return json_response(reply)


async def publish(request: Request) -> Response:
    body = await read_json(request, PublishRequest, _limit(request))
    ids = await _dispatcher(request).publish(body.name, body.msgs)
    return json_response(PublishReply(ids=ids))


async def redrive(request: Request) -> Response:
    body = await read_json(request, RedriveRequest, _limit(request))
    moved = await _dispatcher(request).redrive(body.name, body.max_messages, body.target)
    return json_response(RedriveReply(moved=moved))


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


async def ready(request: Request) -> Response:
    dispatcher = _dispatcher(request)
    serving, reasons = dispatcher.readiness()
    status = "shutting_down" if not serving else ("degraded" if reasons else "ok")
    reply = Readiness(status=status, reasons=reasons, jobs=sorted(dispatcher.subscriptions))
    return json_response(reply, status=200 if serving else 503)


async def metrics(request: Request) -> Response:
    data = generate_latest(_dispatcher(request).metrics.registry)
    return Response(data, media_type="text/plain; version=0.0.4")


async def openapi(request: Request) -> Response:
    return json_response(request.app.state.openapi)


W = "/api/v1/worker"
ROUTES: list[tuple[Operation, Handler]] = [
    (
        Operation(
            "POST",
            f"{W}/subscribe",
            "Serve a job on this dispatcher",
            NameRequest,
            Empty,
            (400, 404, 503),
        ),
        subscribe,
    ),
    (
        Operation("POST", f"{W}/unsubscribe", "Stop serving a job", NameRequest, Empty, (400, 404)),
        unsubscribe,
    ),
    (
        Operation(
            "POST",
            f"{W}/messages",
            "Long-poll the main queue",
            PollRequest,
            MessagesReply,
            (400, 404, 503),
        ),
        messages,
    ),
    (
        Operation(
            "POST",
            f"{W}/messages/retry",
            "Long-poll a retry queue",
            RetryPollRequest,
            MessagesReply,
            (400, 404, 503),
        ),
        retry_messages,
    ),
    (
        Operation(
            "POST",
            f"{W}/messages/dlq",
            "Read the dead-letter queue (ack to remove)",
            PollRequest,
            DLQMessagesReply,
            (400, 404, 503),
        ),
        dlq_messages,
    ),
    (
        Operation(
            "POST",
            f"{W}/messages/dlq/redrive",
            "Move DLQ messages back",
            RedriveRequest,
            RedriveReply,
            (400, 404, 503),
        ),
        redrive,
    ),
    (Operation("POST", f"{W}/ack", "Ack messages by id", IdsRequest, IdsReply, (400, 404)), ack),
    (
        Operation(
            "POST",
            f"{W}/nack",
            "Nack messages: retry queue or DLQ",
            IdsRequest,
            IdsReply,
            (400, 404),
        ),
        nack,
    ),
    (
        Operation(
            "POST",
            f"{W}/extend",
            "Extend the processing deadline",
            ExtendRequest,
            IdsReply,
            (400, 404),
        ),
        extend,
    ),
    (
        Operation(
            "POST",
            f"{W}/publish",
            "Publish messages to the job's topic",
            PublishRequest,
            PublishReply,
            (400, 404, 503),
        ),
        publish,
    ),
    (Operation("GET", "/health", "Liveness"), health),
    (Operation("GET", "/ready", "Readiness; degraded reasons", None, Readiness, (503,)), ready),
    (Operation("GET", "/metrics", "Prometheus metrics", content_type="text/plain"), metrics),
    (Operation("GET", "/openapi.json", "This document"), openapi),
]


def routes() -> list[Route]:
    return [Route(op.path, handler, methods=[op.method]) for op, handler in ROUTES]
