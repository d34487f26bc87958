"""`AsyncDispatcherClient`: the asyncio twin of `DispatcherClient`, method for method."""

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


class AsyncDispatcherClient:
    """An asyncio client for a dispatcher's worker API.

    Same parameters, methods and errors as `DispatcherClient`, awaited; `aclose` (or
    ``async with``) releases the connections.
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
        self._http = httpx.AsyncClient(base_url=base_url, headers=auth_headers(token))

    async def _send(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method, call.path, content=call.body, timeout=call.timeout,
                headers={"content-type": "application/json"} if call.body is not None else None,
            )  # fmt: skip
        except httpx.TransportError as exc:
            raise unavailable(self.url, exc, call) from exc
        return finish(call, response.status_code, response.content, self.url)

    async def subscribe(self, name: str) -> None:
        """See `DispatcherClient.subscribe`."""
        await self._send(self._calls.subscribe(name))

    async def unsubscribe(self, name: str) -> None:
        """See `DispatcherClient.unsubscribe`."""
        await self._send(self._calls.unsubscribe(name))

    async def poll(
        self, name: str, *, max_wait_ms: int = 0, max_messages: int = 10
    ) -> list[Message]:
        """See `DispatcherClient.poll`."""
        return await self._send(self._calls.poll(name, max_wait_ms, max_messages))

    async def poll_retry(
        self, name: str, retry_queue: int, *, max_wait_ms: int = 0, max_messages: int = 10
    ) -> list[Message]:
        """See `DispatcherClient.poll_retry`."""
        call = self._calls.poll_retry(name, retry_queue, max_wait_ms, max_messages)
        return await self._send(call)

    async def poll_dlq(
        self, name: str, *, max_wait_ms: int = 0, max_messages: int = 10
    ) -> list[DLQMessage]:
        """See `DispatcherClient.poll_dlq`."""
        return await self._send(self._calls.poll_dlq(name, max_wait_ms, max_messages))

    async def ack(self, name: str, msg_ids: Sequence[int]) -> IdsReply:
        """See `DispatcherClient.ack`."""
        return await self._send(self._calls.ack(name, msg_ids))

    async def nack(self, name: str, msg_ids: Sequence[int]) -> IdsReply:
        """See `DispatcherClient.nack`."""
        return await self._send(self._calls.nack(name, msg_ids))

    async def extend(self, name: str, msg_ids: Sequence[int], extend_ms: int) -> IdsReply:
        """See `DispatcherClient.extend`."""
        return await self._send(self._calls.extend(name, msg_ids, extend_ms))

    async def publish(self, name: str, msgs: Sequence[Message]) -> list[int]:
        """See `DispatcherClient.publish`."""
        return await self._send(self._calls.publish(name, msgs))

    async def redrive(self, name: str, *, max_messages: int = 100, target: str = "main") -> int:
        """See `DispatcherClient.redrive`."""
        return await self._send(self._calls.redrive(name, max_messages, target))

    async def health(self) -> None:
        """See `DispatcherClient.health`."""
        await self._send(self._calls.health())

    async def ready(self) -> dict[str, Any]:
        """See `DispatcherClient.ready`."""
        return await self._send(self._calls.ready())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncDispatcherClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
