"""The dispatcher's Starlette application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from jobqueue import __version__
from jobqueue.dispatcher.routes import ROUTES, routes
from jobqueue.dispatcher.service import Dispatcher, DispatcherSettings
from jobqueue.plugins import BrokerRegistry
from jobqueue.web.auth import BearerTokenMiddleware
from jobqueue.web.body import DEFAULT_BODY_LIMIT
from jobqueue.web.errors import EXCEPTION_HANDLERS
from jobqueue.web.openapi import build_openapi


def create_app(
    settings: DispatcherSettings,
    *,
    token: str | None = None,
    registry: BrokerRegistry | None = None,
    body_limit: int = DEFAULT_BODY_LIMIT,
) -> Starlette:
    """The worker API. ``app.state.dispatcher`` is the `Dispatcher`; call its ``drain()``
    before the server stops accepting connections so workers can still ack."""
    dispatcher = Dispatcher(settings, registry)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()

    app = Starlette(
        routes=routes(),
        middleware=[Middleware(BearerTokenMiddleware, token=token)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.dispatcher = dispatcher
    app.state.body_limit = body_limit
    app.state.openapi = build_openapi("jobqueue dispatcher", __version__, [op for op, _ in ROUTES])
    return app
