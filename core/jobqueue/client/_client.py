"""`DispatcherClient`: the worker API over one keep-alive HTTP connection pool, blocking."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from jobqueue.client._calls import (
    DEFAULT_DISPATCHER_URL,
    DEFAULT_TIMEOUT_S,
    Call,
    Calls,
    auth_headers,
    display_url,
    finish,
    unavailable,
)
from jobqueue.models import DLQMessage, IdsReply, Message

T = TypeVar("T")


class DispatcherClient:
    """A blocking client for a dispatcher's worker API (`AsyncDispatcherClient` is its twin).

    Parameters:
        base_url: the dispatcher, e.g. ``http://127.0.0.1:4001``.
        token: the dispatcher's bearer token, if it requires one.
        timeout: seconds for connecting, sending and for any reply; a poll's reply may take
            its ``max_wait_ms`` on top of this.

    Every method raises the typed errors of `jobqueue.client` (see its exception tree); a
    refused connection or a reply that does not come in time raises `DispatcherUnavailable`.
    The client never retries by itself; `Worker` does. Use it as a context manager or call
    `close`.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_DISPATCHER_URL,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.url = display_url(base_url)
        self._calls = Calls(timeout)
        self._http = httpx.Client(base_url=base_url, headers=auth_headers(token))

    def _send(self, call: Call[T]) -> T:
        try:
            response = self._http.request(
                call.method, call.path, content=call.body, timeout=call.timeout,
                headers={"content-type": "application/json"} if call.body is not None else None,
            )  # fmt: skip
        except httpx.TransportError as exc:
            raise unavailable(self.url, exc, call) from exc
        return finish(call, response.status_code, response.content, self.url)

    def subscribe(self, name: str) -> None:
        """Have the dispatcher serve job ``name`` (idempotent). `JobNotFound` if the controller
        has no such job."""
        self._send(self._calls.subscribe(name))

    def unsubscribe(self, name: str) -> None:
        """Stop serving ``name`` on this dispatcher, for every worker of it there."""
        self._send(self._calls.unsubscribe(name))

    def poll(self, name: str, *, max_wait_ms: int = 0, max_messages: int = 10) -> list[Message]:
        """Up to ``max_messages`` from the main queue, waiting up to ``max_wait_ms`` for one.

        Each message is leased to this worker until acked, nacked or its processing time
        (see `extend`) passes. Raises `JobStopped` and `BackPressure` (both retryable)."""
        return self._send(self._calls.poll(name, max_wait_ms, max_messages))

    def poll_retry(
        self, name: str, retry_queue: int, *, max_wait_ms: int = 0, max_messages: int = 10
    ) -> list[Message]:
        """Like `poll`, from retry queue ``retry_queue``: only messages whose backoff passed.
        `InvalidInput` with ``field == "retry_queue"`` if the job has no such queue."""
        return self._send(self._calls.poll_retry(name, retry_queue, max_wait_ms, max_messages))

    def poll_dlq(
        self, name: str, *, max_wait_ms: int = 0, max_messages: int = 10
    ) -> list[DLQMessage]:
        """Dead letters, leased like messages: `ack` their ids to delete them, `nack` to put
        them back."""
        return self._send(self._calls.poll_dlq(name, max_wait_ms, max_messages))

    def ack(self, name: str, msg_ids: Sequence[int]) -> IdsReply:
        """Settle ids as done. Retry ``failed_ids``; ``bad_ids`` were not held (expired or
        settled already)."""
        return self._send(self._calls.ack(name, msg_ids))

    def nack(self, name: str, msg_ids: Sequence[int]) -> IdsReply:
        """Settle ids as failed: each goes to its next retry queue or to the DLQ."""
        return self._send(self._calls.nack(name, msg_ids))

    def extend(self, name: str, msg_ids: Sequence[int], extend_ms: int) -> IdsReply:
        """Move the processing deadline of held ids to ``extend_ms`` from now."""
        return self._send(self._calls.extend(name, msg_ids, extend_ms))

    def publish(self, name: str, msgs: Sequence[Message]) -> list[int]:
        """Publish up to 1000 messages; returns their ids once the broker accepted all of
        them, else raises `PublishFailed` with the ``failed_ids``."""
        return self._send(self._calls.publish(name, msgs))

    def redrive(self, name: str, *, max_messages: int = 100, target: str = "main") -> int:
        """Move up to ``max_messages`` dead letters to ``"main"`` or ``"retry_<i>"`` with their
        attempts reset; returns how many moved."""
        return self._send(self._calls.redrive(name, max_messages, target))

    def health(self) -> None:
        """Returns if the dispatcher is alive; raises `DispatcherUnavailable` otherwise."""
        self._send(self._calls.health())

    def ready(self) -> dict[str, Any]:
        """The dispatcher's readiness report: ``status``, ``reasons`` and served ``jobs``."""
        return self._send(self._calls.ready())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DispatcherClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
