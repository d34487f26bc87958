"""``jobqueue dev``: controller + dispatcher + embedded broker in one process.

Everything lives under ``--data-dir``: the controller's SQLite database and the embedded
broker's file, so a restart on the same directory resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path

import click

from jobqueue.cli.dispatcher_cmd import dispatcher_options
from jobqueue.logs import configure_logging


@click.command()
@click.option("--controller-port", default=4000, show_default=True, type=int)
@click.option("--dispatcher-port", default=4001, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface for both.")
@click.option(
    "--data-dir",
    default="./.jobqueue",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the SQLite files live.",
)
@dispatcher_options
def dev(
    controller_port: int,
    dispatcher_port: int,
    host: str,
    data_dir: str,
    max_in_flight: int,
    drain_timeout: float,
    sync_interval: float,
    lease_margin_ms: int,
    max_body_bytes: int,
    log_level: str,
) -> None:
    """Run everything on one machine with nothing installed but Python.

    An embedded-broker job needs only {"type": "sqlite", "config": {"topic": "..."}}.
    """
    from jobqueue.controller.app import create_app as create_controller
    from jobqueue.controller.migrations import upgrade
    from jobqueue.dispatcher.app import create_app as create_dispatcher
    from jobqueue.dispatcher.service import DispatcherSettings
    from jobqueue.dispatcher.worklet import WorkletSettings
    from jobqueue.web.server import Listener, run

    configure_logging(log_level)
    root = Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{(root / 'controller.db').resolve()}"
    upgrade(db_url)
    controller_url = f"http://{host}:{controller_port}"
    settings = DispatcherSettings(
        controller_url=controller_url,
        data_dir=str(root.resolve()),
        dispatcher_id="dev-dispatcher",
        sync_interval_s=sync_interval,
        drain_timeout_s=drain_timeout,
        worklet=WorkletSettings(max_in_flight=max_in_flight, lease_margin_ms=lease_margin_ms),
    )
    dispatcher_app = create_dispatcher(settings, body_limit=max_body_bytes)

    def announce() -> None:
        click.echo(
            f"jobqueue dev: controller {controller_url}, dispatcher http://{host}:{dispatcher_port},"
            f" data in {root.resolve()}",
            err=True,
        )

    run(
        [
            Listener(create_controller(db_url), host, controller_port),
            Listener(dispatcher_app, host, dispatcher_port),
        ],
        before_exit=dispatcher_app.state.dispatcher.drain,
        ready=announce,
    )
