"""``jobqueue job ...``: manage job definitions through the controller's HTTP API."""

from __future__ import annotations

import click


@click.group()
def job() -> None:
    """Create, inspect, update, start, stop and archive jobs."""


@job.command("list")
def list_jobs() -> None:
    """List jobs."""
    raise click.ClickException("not built yet (issue 3)")
