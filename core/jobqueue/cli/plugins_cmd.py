"""``jobqueue plugins``: which brokers this environment can use, and where they come from."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from jobqueue.plugins import load_brokers


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List the discovered broker plugins with their distribution and version."""
    registry = load_brokers()
    rows = [
        {"broker": info.name, "distribution": info.distribution, "version": info.version}
        for info in (registry.brokers[name] for name in registry.names())
    ]
    failures = [
        {"entry_point": f.entry_point, "distribution": f.distribution, "error": f.error}
        for f in registry.failures
    ]
    if as_json:
        click.echo(json.dumps({"brokers": rows, "failures": failures}, indent=2))
        return
    table = Table("broker", "distribution", "version")
    for row in rows:
        table.add_row(row["broker"], row["distribution"], row["version"])
    console = Console()
    console.print(table)
    for failure in failures:
        console.print(
            f"[yellow]warning:[/] plugin {failure['entry_point']!r} from "
            f"{failure['distribution']} failed to load: {failure['error']}"
        )
