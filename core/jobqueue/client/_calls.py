"""The dispatcher's routes as request descriptions, shared by the sync and the async client.

A `Call` holds everything one request needs (method, path, encoded body, timeout, how to read
a 200 reply); `DispatcherClient` and `AsyncDispatcherClient` differ only in how they send it.
Bodies are encoded from the wire types in `jobqueue.models`, so the client cannot drift from
the dispatcher's schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
import msgspec

from jobqueue.client._exceptions import DispatcherUnavailable, error_from_reply
from jobqueue.errors import JobQueueError
from jobqueue.models import (
    DLQMessage,
    DLQMessagesReply,
    ExtendRequest,
    IdsReply,
    IdsRequest,
    Message,
    MessagesReply,
    NameRequest,
    PollRequest,
    PublishReply,
    PublishRequest,
    RedriveReply,
    RedriveRequest,
    RetryPollRequest,
)

T = TypeVar("T")

WORKER = "/api/v1/worker"
DEFAULT_DISPATCHER_URL = "http://127.0.0.1:4001"
DEFAULT_TIMEOUT_S = 30.0

_encode = msgspec.json.Encoder().encode
_messages = msgspec.json.Decoder(MessagesReply).decode
_dlq_messages = msgspec.json.Decoder(DLQMessagesReply).decode
_ids = msgspec.json.Decoder(IdsReply).decode
_published = msgspec.json.Decoder(PublishReply).decode
_redriven = msgspec.json.Decoder(RedriveReply).decode
_object = msgspec.json.Decoder(dict[str, Any]).decode


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    body: bytes | None
    read: Callable[[bytes], T]
    timeout: httpx.Timeout
    job: str | None = None


def _nothing(body: bytes) -> None:
    return None


def _msgs(body: bytes) -> list[Message]:
    return _messages(body).msgs


def _dlq(body: bytes) -> list[DLQMessage]:
    return _dlq_messages(body).msgs


def _published_ids(body: bytes) -> list[int]:
    return _published(body).ids


def _moved(body: bytes) -> int:
    return _redriven(body).moved


class Calls:
    """Builds a `Call` per route. ``timeout_s`` bounds connect, write and pool waits, and is
    the margin a long poll's read timeout gets on top of its ``max_wait_ms``."""

    def __init__(self, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout_s!r}")
        self.timeout_s = timeout_s
        self.short = httpx.Timeout(timeout_s)

    def _post(
        self, route: str, body: msgspec.Struct, read: Callable[[bytes], T], job: str
    ) -> Call[T]:
        return Call("POST", f"{WORKER}/{route}", _encode(body), read, self.short, job)

    def _poll(
        self, route: str, body: msgspec.Struct, read: Callable[[bytes], T], job: str, wait_ms: int
    ) -> Call[T]:
        # The dispatcher holds a long poll up to max_wait_ms before it answers.
        timeout = httpx.Timeout(self.timeout_s, read=max(wait_ms, 0) / 1000 + self.timeout_s)
        return Call("POST", f"{WORKER}/{route}", _encode(body), read, timeout, job)

    def subscribe(self, name: str) -> Call[None]:
        return self._post("subscribe", NameRequest(name=name), _nothing, name)

    def unsubscribe(self, name: str) -> Call[None]:
        return self._post("unsubscribe", NameRequest(name=name), _nothing, name)

    def poll(self, name: str, max_wait_ms: int, max_messages: int) -> Call[list[Message]]:
        body = PollRequest(name=name, max_wait_ms=max_wait_ms, max_messages=max_messages)
        return self._poll("messages", body, _msgs, name, max_wait_ms)

    def poll_retry(
        self, name: str, retry_queue: int, max_wait_ms: int, max_messages: int
    ) -> Call[list[Message]]:
        body = RetryPollRequest(
            name=name, retry_queue=retry_queue, max_wait_ms=max_wait_ms, max_messages=max_messages
        )
        return self._poll("messages/retry", body, _msgs, name, max_wait_ms)

    def poll_dlq(self, name: str, max_wait_ms: int, max_messages: int) -> Call[list[DLQMessage]]:
        body = PollRequest(name=name, max_wait_ms=max_wait_ms, max_messages=max_messages)
        return self._poll("messages/dlq", body, _dlq, name, max_wait_ms)

    def ack(self, name: str, msg_ids: Sequence[int]) -> Call[IdsReply]:
        return self._post("ack", IdsRequest(name=name, msg_ids=list(msg_ids)), _ids, name)

    def nack(self, name: str, msg_ids: Sequence[int]) -> Call[IdsReply]:
        return self._post("nack", IdsRequest(name=name, msg_ids=list(msg_ids)), _ids, name)

    def extend(self, name: str, msg_ids: Sequence[int], extend_ms: int) -> Call[IdsReply]:
        body = ExtendRequest(name=name, msg_ids=list(msg_ids), extend_ms=extend_ms)
        return self._post("extend", body, _ids, name)

    def publish(self, name: str, msgs: Sequence[Message]) -> Call[list[int]]:
        return self._post(
            "publish", PublishRequest(name=name, msgs=list(msgs)), _published_ids, name
        )

    def redrive(self, name: str, max_messages: int, target: str) -> Call[int]:
        body = RedriveRequest(name=name, max_messages=max_messages, target=target)
        # Redrive drains the DLQ in batches, each waiting briefly for more: a longer read.
        timeout = httpx.Timeout(self.timeout_s, read=self.timeout_s * 6)
        path = f"{WORKER}/messages/dlq/redrive"
        return Call("POST", path, _encode(body), _moved, timeout, name)

    def health(self) -> Call[None]:
        return Call("GET", "/health", None, _nothing, self.short)

    def ready(self) -> Call[dict[str, Any]]:
        return Call("GET", "/ready", None, _object, self.short)


def finish(call: Call[T], status: int, content: bytes, url: str) -> T:
    """The decoded reply of a finished request, or the typed error it stands for."""
    if status != 200 and not (call.path == "/ready" and status == 503):
        raise error_from_reply(status, content, url=url, job=call.job)
    try:
        return call.read(content)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise JobQueueError(
            f"dispatcher at {url} sent an unexpected reply to {call.path}: {exc}"
        ) from None


def unavailable(url: str, exc: httpx.TransportError, call: Call[Any]) -> DispatcherUnavailable:
    """A transport failure (refused, reset, timed out) as the retryable client error."""
    if isinstance(exc, httpx.TimeoutException):
        reason = f"no reply to {call.path} in time ({type(exc).__name__})"
    else:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return DispatcherUnavailable(url, reason)


def display_url(base_url: str) -> str:
    """``base_url`` without credentials, for messages and logs; rejects non-HTTP URLs."""
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        # Not echoed whole: a URL may carry credentials.
        raise ValueError(
            f"dispatcher URL must be http(s)://host[:port], got scheme {url.scheme!r}"
            f" and host {url.host!r}"
        )
    return str(url.copy_with(username=None, password=None)).rstrip("/")


def auth_headers(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}
