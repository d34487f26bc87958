"""The command line: ``python -m bench`` (one comparison), ``scaling`` and ``latency``.

Every command starts the broker server it needs (as the tests do), a controller, and a fresh
dispatcher process per dispatcher-mode measurement, all in a temporary directory.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from bench import machine
from bench.reports import latency_summary, write_latency, write_scaling
from bench.results import (
    Row,
    markdown_table,
    median_row,
    print_table,
    ratios,
    read_json,
    write_json,
)
from bench.runner import Measurement, Spec, measure_direct, measure_dispatcher
from bench.services import Controller
from bench.targets import BROKERS, BenchError, Target, open_target

RESULTS = Path("bench/results")
MODES = ("direct", "dispatcher")
SHORTFALL = 0.95  # a latency run below this share of its rate did not measure that rate

F = TypeVar("F", bound=Callable[..., Any])
console = Console(width=max(Console().width, 120))


REPEAT = click.option(
    "--repeat",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Measure each mode this many times (interleaved) and keep the median run.",
)


def common_options(func: F) -> F:
    options = [
        click.option("--broker", type=click.Choice(BROKERS), required=True),
        click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 1000)),
        click.option(
            "--payload-bytes",
            default=100,
            show_default=True,
            type=click.IntRange(0),
            help="Padding in each message's data.",
        ),
        click.option(
            "--timeout",
            default=300.0,
            show_default=True,
            type=float,
            help="Seconds a phase may take before the run fails.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@contextlib.contextmanager
def environment(broker: str) -> Iterator[tuple[Target, Controller]]:
    """The broker's server and a controller, in a temporary directory removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="jobqueue-bench-") as tmp:
        root = Path(tmp)
        with open_target(broker, root) as target, Controller(root / "controller") as controller:
            yield target, controller


def measure(target: Target, controller: Controller, spec: Spec, mode: str) -> Measurement:
    with console.status(f"{target.broker} {mode}: W={spec.workers} N={spec.messages}"):
        if mode == "direct":
            return measure_direct(target, spec)
        return measure_dispatcher(target, controller, spec)


def measure_rows(
    target: Target, controller: Controller, spec: Spec, modes: Sequence[str], repeat: int
) -> list[Row]:
    """Each mode ``repeat`` times, interleaved; per mode the run of median throughput."""
    runs: dict[str, list[Row]] = {mode: [] for mode in modes}
    for _ in range(repeat):
        for mode in modes:
            runs[mode].append(measure(target, controller, spec, mode).row)
    return [median_row(rows) for rows in runs.values()]


def _print_ratios(rows: list[Row]) -> None:
    for broker, batch, workers, ratio in ratios(rows):
        console.print(f"{broker} B={batch} W={workers}: dispatcher / direct = {ratio:.2f}")


@click.group(invoke_without_command=True)
@click.option("--broker", type=click.Choice(BROKERS))
@click.option("--messages", default=10_000, show_default=True, type=click.IntRange(1))
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1))
@click.option("--payload-bytes", default=100, show_default=True, type=click.IntRange(0))
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice(MODES),
    help="Measure only this mode (repeatable; default: both).",
)
@REPEAT
@click.option("--timeout", default=300.0, show_default=True, type=float)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--profile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Record the serving process with py-spy during each timed window (.svg, .json, .txt);"
    " the broker and mode are added to the file name.",
)
@click.pass_context
def main(
    ctx: click.Context,
    broker: str | None,
    messages: int,
    batch: int,
    workers: int,
    payload_bytes: int,
    modes: tuple[str, ...],
    repeat: int,
    timeout: float,
    json_path: Path | None,
    profile: Path | None,
) -> None:
    """Measure the dispatcher against the broker's own client library, side by side.

    Without a subcommand: produce N messages and consume + ack them in batches of B with W
    workers, directly through the plugin and then through a dispatcher; print the table and
    write the rows to --json.
    """
    if ctx.invoked_subcommand is not None:
        return
    if broker is None or json_path is None:
        raise click.UsageError("--broker and --json are required without a subcommand")
    spec = Spec(messages, batch, workers, payload_bytes, timeout_s=timeout, profile=profile)
    rows: list[Row] = []
    try:
        with environment(broker) as (target, controller):
            rows = measure_rows(target, controller, spec, modes or MODES, repeat)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    print_table(rows, f"{broker}: {target.note}", console)
    _print_ratios(rows)
    write_json(rows, json_path)
    console.print(f"rows written to {json_path}")


@main.command()
@common_options
@click.option("--messages", default=10_000, show_default=True, type=click.IntRange(1))
@REPEAT
@click.option(
    "--workers",
    "workers_list",
    default="1,2,4",
    show_default=True,
    help="Comma-separated worker counts.",
)
@click.option("--out", default=RESULTS, show_default=True, type=click.Path(path_type=Path))
def scaling(
    broker: str,
    batch: int,
    payload_bytes: int,
    timeout: float,
    messages: int,
    repeat: int,
    workers_list: str,
    out: Path,
) -> None:
    """Throughput of both modes with W = 1, 2, 4 workers: markdown + PNG in --out."""
    try:
        counts = [int(part) for part in workers_list.split(",")]
    except ValueError:
        raise click.BadParameter("comma-separated integers", param_hint="--workers") from None
    machine_line = machine.describe()
    rows: list[Row] = []
    try:
        with environment(broker) as (target, controller):
            for workers in counts:
                spec = Spec(messages, batch, workers, payload_bytes, timeout_s=timeout)
                rows += measure_rows(target, controller, spec, MODES, repeat)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    print_table(rows, f"{broker} scaling: {target.note}", console)
    _print_ratios(rows)
    path = write_scaling(rows, out, broker, machine_line, target.note)
    console.print(f"report written to {path}")


@main.command()
@common_options
@click.option("--rate", default=1000.0, show_default=True, type=click.FloatRange(min=1))
@click.option("--duration", default=15.0, show_default=True, type=click.FloatRange(min=0.1))
@click.option(
    "--publish-batch",
    default=10,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Messages per publish call: the rate is kept by one producer thread, which makes one"
    " HTTP call at a time (one message per call tops out near 500 msg/s here).",
)
@click.option("--out", default=RESULTS, show_default=True, type=click.Path(path_type=Path))
def latency(
    broker: str,
    batch: int,
    payload_bytes: int,
    timeout: float,
    rate: float,
    duration: float,
    publish_batch: int,
    out: Path,
) -> None:
    """Latency of both modes at a fixed publish rate, one worker: markdown + PNG in --out."""
    messages = max(1, round(rate * duration))
    spec = Spec(
        messages,
        batch,
        1,
        payload_bytes,
        rate=rate,
        publish_batch=publish_batch,
        timeout_s=max(timeout, duration * 3),
    )
    machine_line = machine.describe()
    measured: dict[str, Measurement] = {}
    try:
        with environment(broker) as (target, controller):
            for mode in MODES:
                measured[mode] = measure(target, controller, spec, mode)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from None
    rows = [m.row for m in measured.values()]
    latencies = {mode: m.latencies_ns for mode, m in measured.items()}
    print_table(rows, f"{broker} at {rate:g} msg/s: {target.note}", console)
    for line in latency_summary(latencies):
        console.print(line)
    for row in rows:
        if row.msgs_per_s < SHORTFALL * rate:
            console.print(f"[bold red]{row.mode} reached only {row.msgs_per_s:,.0f} msg/s[/]")
    path = write_latency(rows, latencies, out, broker, machine_line, target.note, rate)
    console.print(f"report written to {path}")


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def table(files: tuple[Path, ...]) -> None:
    """Print the rows of JSON result files as one markdown table, with the throughput ratios."""
    rows = [row for path in files for row in read_json(path)]
    click.echo(markdown_table(rows), nl=False)
    for broker, batch, workers, ratio in ratios(rows):
        click.echo(f"- {broker}, B = {batch}, W = {workers}: dispatcher / direct = {ratio:.2f}")
