"""``jobqueue publish`` and ``jobqueue dlq``: talk to a dispatcher from the shell."""

from __future__ import annotations

import click


@click.command()
@click.argument("job_name")
def publish(job_name: str) -> None:
    """Publish messages to a producer job through a dispatcher."""
    raise click.ClickException("not built yet (issue 8)")


@click.command()
@click.argument("job_name")
def dlq(job_name: str) -> None:
    """Read or redrive a job's dead-letter queue through a dispatcher."""
    raise click.ClickException("not built yet (issue 8)")
