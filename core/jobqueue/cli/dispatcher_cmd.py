"""``jobqueue dispatcher``: the worker-facing sidecar."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from jobqueue.logs import configure_logging

TOKEN_HELP = "Bearer token workers must present (default: none; loopback-only by default)."


F = TypeVar("F", bound=Callable[..., Any])


def dispatcher_options(func: F) -> F:
    """Options shared by `jobqueue dispatcher` and `jobqueue dev`."""
    options = [
        click.option(
            "--max-in-flight",
            default=1000,
            show_default=True,
            type=click.IntRange(1),
            help="Un-acked messages per job before polls answer 503.",
        ),
        click.option(
            "--drain-timeout",
            default=30.0,
            show_default=True,
            type=float,
            help="Seconds to wait for in-flight acks on SIGTERM or a new job version.",
        ),
        click.option(
            "--sync-interval",
            default=5.0,
            show_default=True,
            type=float,
            help="Seconds between gossips with the controller.",
        ),
        click.option(
            "--lease-margin-ms",
            default=30_000,
            show_default=True,
            type=click.IntRange(0),
            help="Broker lease beyond max_processing_time_ms (crash redelivery delay).",
        ),
        click.option(
            "--max-body-bytes",
            default=10 * 1024 * 1024,
            show_default=True,
            type=click.IntRange(1024),
            help="Request bodies larger than this get 413.",
        ),
        click.option(
            "--log-level",
            default="info",
            show_default=True,
            type=click.Choice(["debug", "info", "warning", "error"]),
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command()
@click.option(
    "--controller",
    "controller_url",
    envvar="JOBQUEUE_CONTROLLER",
    default="http://127.0.0.1:4000",
    show_default=True,
    help="Controller base URL.",
)
@click.option(
    "--controller-token",
    envvar="JOBQUEUE_CONTROLLER_TOKEN",
    default=None,
    help="Bearer token for the controller [env JOBQUEUE_CONTROLLER_TOKEN].",
)
@click.option(
    "--token",
    envvar="JOBQUEUE_DISPATCHER_TOKEN",
    default=None,
    help=TOKEN_HELP + " [env JOBQUEUE_DISPATCHER_TOKEN]",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind; loopback by default (a sidecar).",
)
@click.option("--port", default=4001, show_default=True, type=int)
@click.option(
    "--data-dir",
    default="./.jobqueue",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Local files of embedded brokers.",
)
@dispatcher_options
def dispatcher(
    controller_url: str,
    controller_token: str | None,
    token: str | None,
    host: str,
    port: int,
    data_dir: str,
    max_in_flight: int,
    drain_timeout: float,
    sync_interval: float,
    lease_margin_ms: int,
    max_body_bytes: int,
    log_level: str,
) -> None:
    """Run the dispatcher that serves workers over HTTP."""
    from jobqueue.dispatcher.app import create_app
    from jobqueue.dispatcher.service import DispatcherSettings
    from jobqueue.dispatcher.worklet import WorkletSettings
    from jobqueue.web.server import Listener, run

    configure_logging(log_level)
    settings = DispatcherSettings(
        controller_url=controller_url,
        controller_token=controller_token,
        data_dir=data_dir,
        sync_interval_s=sync_interval,
        drain_timeout_s=drain_timeout,
        worklet=WorkletSettings(max_in_flight=max_in_flight, lease_margin_ms=lease_margin_ms),
    )
    app = create_app(settings, token=token, body_limit=max_body_bytes)
    run([Listener(app, host, port)], before_exit=app.state.dispatcher.drain)
