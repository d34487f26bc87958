"""The one place where error types become HTTP statuses and JSON error bodies."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from jobqueue import errors
from jobqueue.models import ErrorReply
from jobqueue.web.responses import json_response

log = logging.getLogger(__name__)

# Most specific first is not needed: lookup walks the exception's MRO.
STATUS: dict[type[errors.JobQueueError], int] = {
    errors.InvalidInput: 400,
    errors.BrokerConfigError: 400,
    errors.UnknownBroker: 400,
    errors.Unauthorized: 401,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.ServiceUnavailable: 503,
    errors.PluginError: 500,
    errors.JobQueueError: 500,
}


def status_for(exc: errors.JobQueueError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_reply(exc: errors.JobQueueError) -> ErrorReply:
    field = getattr(exc, "field", None)
    failed_ids = getattr(exc, "failed_ids", None)
    return ErrorReply(error=exc.message, code=exc.code, field=field or None, failed_ids=failed_ids)


async def handle_jobqueue_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.JobQueueError)
    status = status_for(exc)
    if status == 500:
        log.warning("request failed", extra={"path": request.url.path, "error": exc.message})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return json_response(error_reply(exc), status=status, headers=headers)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    text = exc.detail if isinstance(exc.detail, str) else "error"
    if exc.status_code == 404:
        text = f"no route {request.method} {request.url.path}"
    return json_response(
        ErrorReply(error=text, code="http_error"), status=exc.status_code, headers=exc.headers
    )


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", extra={"path": request.url.path})
    reply = ErrorReply(
        error=f"internal error ({type(exc).__name__}); see the server log",
        code=errors.JobQueueError.code,
    )
    return json_response(reply, status=500)


EXCEPTION_HANDLERS = {
    errors.JobQueueError: handle_jobqueue_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
