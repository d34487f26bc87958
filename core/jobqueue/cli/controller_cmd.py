"""``jobqueue controller`` and ``jobqueue migrate``: the control plane and its schema."""

from __future__ import annotations

import click


@click.command()
@click.option("--db", envvar="JOBQUEUE_DB", default="sqlite:///.jobqueue/controller.db",
              show_default=True, help="SQLAlchemy URL of the job store.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4000, show_default=True, type=int)
def controller(db: str, host: str, port: int) -> None:
    """Run the controller (job registry and dispatcher registrations)."""
    raise click.ClickException("the controller is not built yet (issue 3)")


@click.command()
@click.option("--db", envvar="JOBQUEUE_DB", default="sqlite:///.jobqueue/controller.db",
              show_default=True, help="SQLAlchemy URL of the job store.")
def migrate(db: str) -> None:
    """Apply the controller's database migrations."""
    raise click.ClickException("migrations are not built yet (issue 3)")
