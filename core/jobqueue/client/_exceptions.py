"""The errors a worker sees, and the one place where dispatcher replies become them.

The client raises the same types the dispatcher raised: an error reply carries the ``code``
of a `jobqueue.errors` class, and `error_from_reply` looks it up in a table built from those
classes. Connection failures and timeouts become `DispatcherUnavailable`.

    JobQueueError
    ├── InvalidInput (alias BadRequest)  400  a request field is wrong; ``field`` names it
    ├── Unauthorized                     401  missing or wrong dispatcher token
    ├── NotFound                         404
    │   ├── JobNotFound                       the controller has no such job (subscribe)
    │   └── NotSubscribed                     the dispatcher does not serve the job: subscribe
    ├── PayloadTooLarge                  413  the request body is over the dispatcher's limit
    └── ServiceUnavailable               503  retryable (see `is_retryable`)
        ├── DispatcherUnavailable             no connection, or no reply in time (client side)
        ├── JobStopped                        polls of a stopped job; ack/nack still work
        ├── BackPressure                      too many un-acked messages: settle some first
        ├── ControllerUnavailable             the dispatcher cannot reach the controller
        └── BrokerUnavailable                 the dispatcher cannot reach the broker
            └── PublishFailed                 ``failed_ids`` were not accepted

``BadRequest`` is `InvalidInput` itself, not a subclass, so ``except BadRequest`` catches
exactly what the dispatcher answered 400 for. Every error raised from a reply also carries
``status_code`` and ``dispatcher_url``; the job-scoped ones carry ``name`` (the job).
A code this client does not know maps to the class of its HTTP status.

`Nack` is not an error of the API: a `Worker` handler raises it to nack a message on
purpose, without a traceback in the log.
"""

from __future__ import annotations

import inspect
from typing import Any

import msgspec

from jobqueue import errors
from jobqueue.errors import (
    InvalidInput,
    JobQueueError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
)
from jobqueue.models import ErrorReply

BadRequest = InvalidInput


class DispatcherUnavailable(ServiceUnavailable):
    """The dispatcher could not be reached or did not answer in time; retry later."""

    code = "dispatcher_unavailable"

    def __init__(self, url: str, reason: str) -> None:
        self.dispatcher_url = url
        self.reason = reason
        super().__init__(f"dispatcher at {url} unavailable: {reason}")


class Nack(Exception):
    """Raise from a `Worker` handler to nack the message without logging a traceback."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


def _subclasses(cls: type[JobQueueError]) -> list[type[JobQueueError]]:
    found: list[type[JobQueueError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _code_table() -> dict[str, type[JobQueueError]]:
    table: dict[str, type[JobQueueError]] = {JobQueueError.code: JobQueueError}
    for cls in _subclasses(JobQueueError):
        if cls.__module__ == errors.__name__:
            table[cls.code] = cls
    table[DispatcherUnavailable.code] = DispatcherUnavailable
    return table


ERROR_TYPES: dict[str, type[JobQueueError]] = _code_table()
"""Wire ``code`` -> the exception class the client raises for it."""

_BY_STATUS: dict[int, type[JobQueueError]] = {
    400: InvalidInput,
    401: Unauthorized,
    404: NotFound,
    409: errors.Conflict,
    413: PayloadTooLarge,
    503: ServiceUnavailable,
}

_decode_reply = msgspec.json.Decoder(ErrorReply).decode


def _build(cls: type[JobQueueError], message: str) -> JobQueueError:
    # The classes' constructors take what the server knew (limits, counts); the reply only
    # carries the finished message, so build the instance around it.
    exc = cls.__new__(cls)
    JobQueueError.__init__(exc, message)
    return exc


def error_from_reply(
    status: int, body: bytes, *, url: str, job: str | None = None
) -> JobQueueError:
    """The typed error for a non-200 dispatcher reply (never raises itself)."""
    try:
        reply: ErrorReply | None = _decode_reply(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        reply = None
    if reply is None:
        text = body.decode(errors="replace").strip()[:200] or "no body"
        if status in (502, 504):
            return DispatcherUnavailable(url, f"HTTP {status} from a proxy: {text}")
        cls = _BY_STATUS.get(status, JobQueueError)
        exc = _build(cls, f"dispatcher at {url} answered HTTP {status}: {text}")
    else:
        cls = ERROR_TYPES.get(reply.code) or _BY_STATUS.get(status, JobQueueError)
        exc = _build(cls, reply.error)
        if reply.field is not None or cls is InvalidInput:
            _set(exc, field=reply.field or "", reason=reply.error)
        if reply.failed_ids is not None:
            _set(exc, failed_ids=reply.failed_ids)
    _set(exc, status_code=status, dispatcher_url=url)
    if job is not None and "name" in inspect.signature(type(exc).__init__).parameters:
        _set(exc, name=job)
    return exc


def _set(exc: JobQueueError, **attrs: Any) -> None:
    for key, value in attrs.items():
        setattr(exc, key, value)


def is_retryable(exc: BaseException) -> bool:
    """True for errors that may go away by themselves: every `ServiceUnavailable` (dispatcher,
    controller or broker down, back-pressure, a stopped job, a draining dispatcher) and a
    dispatcher's internal error (HTTP 500, plain `JobQueueError`)."""
    return isinstance(exc, ServiceUnavailable) or type(exc) is JobQueueError
