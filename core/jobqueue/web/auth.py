"""Optional bearer-token authentication as ASGI middleware, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Collection

from starlette.types import ASGIApp, Receive, Scope, Send

from jobqueue.errors import Unauthorized
from jobqueue.web.errors import error_reply
from jobqueue.web.responses import json_response

OPEN_PATHS = frozenset({"/health", "/ready", "/metrics", "/openapi.json"})


class BearerTokenMiddleware:
    """Rejects requests without ``Authorization: Bearer <token>`` with 401, except open paths.

    With ``token=None`` every request passes: auth is off.
    """

    def __init__(
        self, app: ASGIApp, token: str | None, open_paths: Collection[str] = OPEN_PATHS
    ) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        presented = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credential = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    presented = credential.strip()
                break
        if not presented:
            exc = Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
        elif not hmac.compare_digest(presented, self.token):
            exc = Unauthorized("invalid bearer token")
        else:
            await self.app(scope, receive, send)
            return
        response = json_response(
            error_reply(exc), status=401, headers={"WWW-Authenticate": "Bearer"}
        )
        await response(scope, receive, send)
