"""``jobqueue dev``: controller + dispatcher + embedded broker in one process."""

from __future__ import annotations

import click


@click.command()
@click.option("--controller-port", default=4000, show_default=True, type=int)
@click.option("--dispatcher-port", default=4001, show_default=True, type=int)
@click.option("--data-dir", default="./.jobqueue", show_default=True,
              type=click.Path(file_okay=False), help="Where the SQLite files live.")
def dev(controller_port: int, dispatcher_port: int, data_dir: str) -> None:
    """Run everything on one machine with nothing installed but Python."""
    raise click.ClickException("`jobqueue dev` is not built yet (issue 4)")
