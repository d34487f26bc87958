"""`create_app`: the controller as a Starlette application over a migrated job store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.routing import Route

from jobqueue import __version__
from jobqueue.errors import InvalidInput, JobQueueError
from jobqueue.plugins import BrokerRegistry, load_brokers
from jobqueue.web.auth import BearerTokenMiddleware
from jobqueue.web.body import DEFAULT_BODY_LIMIT
from jobqueue.web.errors import EXCEPTION_HANDLERS
from jobqueue.web.openapi import Operation, build_openapi

from . import dispatcher_routes, job_routes, migrations, ops_routes
from .db import Database, make_engine
from .metrics import ControllerMetrics, MetricsMiddleware
from .registrations import RegistrationStore
from .state import ControllerState, Endpoint
from .store import JobStore
from .validation import JobValidator

log = logging.getLogger(__name__)

# Job definitions are small; anything near this is a mistake or an attack.
BODY_LIMIT = min(DEFAULT_BODY_LIMIT, 1024 * 1024)
MAX_SWEEP_INTERVAL_S = 30.0


def create_app(
    db_url: str,
    *,
    token: str | None = None,
    registry: BrokerRegistry | None = None,
    dispatcher_ttl_s: float = 60.0,
    body_limit: int = BODY_LIMIT,
) -> Starlette:
    """The controller app over the job store at ``db_url``.

    ``token``: bearer token required on every route but /health, /ready, /metrics and
    /openapi.json (None: auth off). ``registry``: the broker plugins that validate queue
    configs (default: every installed one). ``dispatcher_ttl_s``: a dispatcher registration
    without heartbeat for this long is expired. Raises `DatabaseNotMigrated` when the
    schema is missing or old: run ``jobqueue migrate --db URL`` first.
    """
    if dispatcher_ttl_s <= 0:
        raise InvalidInput("dispatcher_ttl_s", "must be greater than 0")
    engine = make_engine(db_url)
    try:
        migrations.check(engine)
    except BaseException:
        engine.dispose()
        raise
    database = Database(engine)
    jobs = JobStore(database)
    registrations = RegistrationStore(database, dispatcher_ttl_s)
    metrics = ControllerMetrics(jobs, registrations)
    state = ControllerState(
        db=database,
        jobs=jobs,
        registrations=registrations,
        validator=JobValidator(registry if registry is not None else load_brokers()),
        metrics=metrics,
        body_limit=body_limit,
    )
    operations = [*job_routes.OPERATIONS, *dispatcher_routes.OPERATIONS, *ops_routes.OPERATIONS]
    state.openapi = build_openapi(
        "jobqueue controller", __version__, [operation for operation, _ in operations]
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_sweep_registrations, registrations, dispatcher_ttl_s)
            yield
            tasks.cancel_scope.cancel()
        database.dispose()

    app = Starlette(
        routes=_routes(operations),
        middleware=[
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(BearerTokenMiddleware, token=token),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.controller = state
    return app


def _routes(operations: list[tuple[Operation, Endpoint]]) -> list[Route]:
    """Each path as the original service spells it, and the same path without the slash."""
    routes = []
    for operation, endpoint in operations:
        paths = [operation.path]
        if operation.path.endswith("/") and operation.path != "/":
            paths.append(operation.path.rstrip("/"))
        for path in paths:
            routes.append(Route(path, endpoint, methods=[operation.method], name=operation.path))
    return routes


async def _sweep_registrations(registrations: RegistrationStore, ttl_s: float) -> None:
    """Delete expired registrations now and then; answers never wait for this sweep."""
    interval = min(max(ttl_s / 2, 1.0), MAX_SWEEP_INTERVAL_S)
    while True:
        await anyio.sleep(interval)
        try:
            expired = await run_in_threadpool(registrations.expire)
        except JobQueueError as exc:
            log.warning("could not expire dispatcher registrations: %s", exc)
            continue
        if expired:
            log.info("expired dispatcher registrations", extra={"count": expired})
