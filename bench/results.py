"""Result rows: how they are computed from a run, written as JSON, printed and tabled.

A row holds the fields issue 9 specifies, then what helps to read them: the CPU of the bench
process (the workers) and of the broker's own server, per 10k messages.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import msgspec
from rich.console import Console
from rich.table import Table

ROW_FIELDS = (
    "broker", "mode", "messages", "batch", "workers",
    "msgs_per_s", "p50_ms", "p99_ms", "cpu_s_per_10k", "rss_mb",
)  # fmt: skip


class Row(msgspec.Struct, kw_only=True):
    """One measurement. ``cpu_s_per_10k`` and ``rss_mb`` are of the serving process: the
    dispatcher in dispatcher mode, the bench process (which runs the client library) in
    direct mode."""

    broker: str
    mode: str
    messages: int
    batch: int
    workers: int
    msgs_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_s_per_10k: float
    rss_mb: float
    bench_cpu_s_per_10k: float = 0.0
    broker_cpu_s_per_10k: float = 0.0


def percentile_ms(sorted_ns: Sequence[int], fraction: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in milliseconds."""
    if not sorted_ns:
        return float("nan")
    index = min(len(sorted_ns) - 1, max(0, math.ceil(fraction * len(sorted_ns)) - 1))
    return sorted_ns[index] / 1e6


def median_row(rows: Sequence[Row]) -> Row:
    """The run of median throughput (the lower middle one of an even count)."""
    ordered = sorted(rows, key=lambda row: row.msgs_per_s)
    return ordered[(len(ordered) - 1) // 2]


def per_10k(cpu_s: float, messages: int) -> float:
    return cpu_s * 10_000 / messages


def write_json(rows: Sequence[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [msgspec.to_builtins(row) for row in rows]
    path.write_text(json.dumps(data, indent=2) + "\n")


def read_json(path: Path) -> list[Row]:
    return msgspec.json.decode(path.read_bytes(), type=list[Row])


COLUMNS = (
    ("broker", "broker"),
    ("mode", "mode"),
    ("messages", "N"),
    ("batch", "B"),
    ("workers", "W"),
    ("msgs_per_s", "msg/s"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("cpu_s_per_10k", "CPU s/10k"),
    ("bench_cpu_s_per_10k", "bench CPU"),
    ("broker_cpu_s_per_10k", "broker CPU"),
    ("rss_mb", "RSS MB"),
)


def _cell(row: Row, field: str) -> str:
    value = getattr(row, field)
    if isinstance(value, float):
        if field == "msgs_per_s":
            return f"{value:,.0f}"
        return f"{value:.2f}" if field in ("p50_ms", "p99_ms", "rss_mb") else f"{value:.3f}"
    return str(value)


def print_table(rows: Sequence[Row], title: str, console: Console | None = None) -> None:
    table = Table(title=title)
    for field, header in COLUMNS:
        table.add_column(header, justify="left" if field in ("broker", "mode") else "right")
    for row in rows:
        table.add_row(*(_cell(row, field) for field, _ in COLUMNS))
    (console or Console()).print(table)


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [
        "| " + " | ".join(header for _, header in COLUMNS) + " |",
        "|" + "|".join("---" if f in ("broker", "mode") else "---:" for f, _ in COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row, field) for field, _ in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def ratios(rows: Sequence[Row]) -> list[tuple[str, int, int, float]]:
    """dispatcher / direct throughput for each (broker, batch, workers) measured in both."""
    direct = {(r.broker, r.batch, r.workers): r for r in rows if r.mode == "direct"}
    out: list[tuple[str, int, int, float]] = []
    for row in rows:
        base = direct.get((row.broker, row.batch, row.workers))
        if row.mode == "dispatcher" and base is not None and base.msgs_per_s > 0:
            out.append((row.broker, row.batch, row.workers, row.msgs_per_s / base.msgs_per_s))
    return out
