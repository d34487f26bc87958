"""``jobqueue dispatcher``: the worker-facing sidecar."""

from __future__ import annotations

import click


@click.command()
@click.option("--controller", "controller_url", envvar="JOBQUEUE_CONTROLLER",
              default="http://127.0.0.1:4000", show_default=True, help="Controller base URL.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4001, show_default=True, type=int)
def dispatcher(controller_url: str, host: str, port: int) -> None:
    """Run the dispatcher that serves workers over HTTP."""
    raise click.ClickException("the dispatcher is not built yet (issue 4)")
