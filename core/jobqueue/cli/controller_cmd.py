"""``jobqueue controller`` and ``jobqueue migrate``: the control plane and its schema."""

from __future__ import annotations

import logging

import click

from jobqueue.errors import JobQueueError
from jobqueue.logs import configure_logging

DEFAULT_DB = "sqlite:///.jobqueue/controller.db"
TOKEN_ENV = "JOBQUEUE_CONTROLLER_TOKEN"

log = logging.getLogger("jobqueue.controller")


@click.command()
@click.option(
    "--db",
    envvar="JOBQUEUE_DB",
    default=DEFAULT_DB,
    show_default=True,
    help="SQLAlchemy URL of the job store (env JOBQUEUE_DB), e.g. postgresql://user@host/db.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=4000, show_default=True, type=int)
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    default=None,
    help=f"Require 'Authorization: Bearer <token>' on every API route (env {TOKEN_ENV}).",
)
@click.option(
    "--dispatcher-ttl",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds without a heartbeat after which a dispatcher registration expires.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def controller(
    db: str, host: str, port: int, token: str | None, dispatcher_ttl: float, log_level: str
) -> None:
    """Run the controller (job registry and dispatcher registrations).

    The database must be migrated first: `jobqueue migrate --db URL`.
    """
    from jobqueue.controller.app import create_app
    from jobqueue.controller.db import safe_url
    from jobqueue.web.server import Listener, run

    try:
        app = create_app(db, token=token or None, dispatcher_ttl_s=dispatcher_ttl)
    except JobQueueError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(log_level)
    log.info(
        "controller starting",
        extra={"db": safe_url(db), "host": host, "port": port, "auth": bool(token)},
    )
    run([Listener(app, host, port)])


@click.command()
@click.option(
    "--db",
    envvar="JOBQUEUE_DB",
    default=DEFAULT_DB,
    show_default=True,
    help="SQLAlchemy URL of the job store (env JOBQUEUE_DB).",
)
def migrate(db: str) -> None:
    """Apply the controller's database migrations (idempotent)."""
    from jobqueue.controller.db import safe_url
    from jobqueue.controller.migrations import head_revision, upgrade

    try:
        upgrade(db)
    except JobQueueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"database {safe_url(db)} is at revision {head_revision()} (latest)")
