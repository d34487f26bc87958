"""Reading request bodies: a size limit enforced while streaming, then typed decoding."""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import Request

from jobqueue.errors import InvalidInput, PayloadTooLarge
from jobqueue.models import decode_json

T = TypeVar("T")

DEFAULT_BODY_LIMIT = 10 * 1024 * 1024


async def read_body(request: Request, limit: int = DEFAULT_BODY_LIMIT) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(limit)
        except ValueError:
            raise InvalidInput("Content-Length", "not an integer") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, type_: type[T], limit: int = DEFAULT_BODY_LIMIT) -> T:
    """The request body decoded as ``type_``; `InvalidInput` names the bad field."""
    body = await read_body(request, limit)
    if not body:
        raise InvalidInput("", "empty body; expected a JSON object")
    return decode_json(body, type_)
