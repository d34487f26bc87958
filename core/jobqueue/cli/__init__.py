"""The ``jobqueue`` command line: one module per command (group), assembled here."""

from __future__ import annotations

import click

from jobqueue import __version__
from jobqueue.cli.controller_cmd import controller, migrate
from jobqueue.cli.dev_cmd import dev
from jobqueue.cli.dispatcher_cmd import dispatcher
from jobqueue.cli.job_cmd import job
from jobqueue.cli.plugins_cmd import plugins
from jobqueue.cli.worker_cmd import dlq, publish


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jobqueue")
def main() -> None:
    """jobqueue: durable job queues with retries, backoff and a DLQ behind a small HTTP API.

    Start with `jobqueue dev`: controller, dispatcher and an embedded broker in one process.
    """


for command in (dev, controller, dispatcher, migrate, job, publish, dlq, plugins):
    main.add_command(command)

__all__ = ["main"]
