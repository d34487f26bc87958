"""Health, readiness, Prometheus metrics and the OpenAPI document (open without a token)."""

from __future__ import annotations

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from jobqueue.web.openapi import Operation
from jobqueue.web.responses import json_response

from .state import Endpoint, get_state
from .wire import Status


async def health(request: Request) -> Response:
    return json_response(Status())


async def ready(request: Request) -> Response:
    state = get_state(request)

    def ping() -> None:
        with state.db.read() as conn:
            conn.execute(sa.text("SELECT 1"))

    await run_in_threadpool(ping)
    return json_response(Status())


async def metrics(request: Request) -> Response:
    body = await run_in_threadpool(get_state(request).metrics.render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    return json_response(get_state(request).openapi)


OPERATIONS: list[tuple[Operation, Endpoint]] = [
    (Operation("GET", "/health", "The process is up", None, Status), health),
    (Operation("GET", "/ready", "The job store answers", None, Status, (503,)), ready),
    (
        Operation("GET", "/metrics", "Prometheus metrics", content_type="text/plain"),
        metrics,
    ),
    (Operation("GET", "/openapi.json", "This document"), openapi),
]
