"""The scaling and latency reports: markdown (with the table and the plot) and JSON rows."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench import machine
from bench.plots import latency_plot, scaling_plot
from bench.results import Row, markdown_table, percentile_ms, ratios, write_json

LATENCY_PERCENTILES = (0.5, 0.9, 0.99, 0.999, 1.0)


def _command() -> str:
    return "python -m bench " + shlex.join(sys.argv[1:])


def _header(title: str, machine_line: str, note: str) -> list[str]:
    return [
        f"# {title}",
        "",
        f"- measured: {machine.timestamp()}",
        f"- machine: {machine_line}",
        f"- broker server: {note}",
        f"- command (from the repository root): `{_command()}`",
        "",
    ]


def write_scaling(
    rows: Sequence[Row], out: Path, broker: str, machine_line: str, note: str
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"scaling-{broker}"
    scaling_plot(rows, out / f"{stem}.png", f"{broker}: direct vs dispatcher by workers")
    write_json(rows, out / f"{stem}.json")
    lines = _header(f"Scaling with workers: {broker}", machine_line, note)
    lines += [markdown_table(rows), "dispatcher / direct throughput:", ""]
    lines += [f"- W = {w}: {ratio:.2f}" for _, _, w, ratio in ratios(rows)]
    lines += ["", f"![throughput and CPU by workers]({stem}.png)", ""]
    path = out / f"{stem}.md"
    path.write_text("\n".join(lines))
    return path


def latency_summary(latencies_ns: Mapping[str, Sequence[int]]) -> list[str]:
    """A markdown table of percentiles per mode, then the dispatcher's added latency."""
    heads = ["p50", "p90", "p99", "p99.9", "max"]
    lines = ["| mode | " + " | ".join(f"{h} ms" for h in heads) + " |"]
    lines.append("|---|" + "---:|" * len(heads))
    for mode, samples in latencies_ns.items():
        cells = " | ".join(f"{percentile_ms(samples, p):.2f}" for p in LATENCY_PERCENTILES)
        lines.append(f"| {mode} | {cells} |")
    direct, dispatcher = latencies_ns.get("direct"), latencies_ns.get("dispatcher")
    if direct and dispatcher:
        added = [percentile_ms(dispatcher, p) - percentile_ms(direct, p) for p in (0.5, 0.99)]
        lines += [
            "",
            f"Added by the dispatcher: p50 {added[0]:+.2f} ms (target ≤ 1 ms), "
            f"p99 {added[1]:+.2f} ms (target ≤ 5 ms).",
        ]
    return lines


def write_latency(
    rows: Sequence[Row],
    latencies_ns: Mapping[str, Sequence[int]],
    out: Path,
    broker: str,
    machine_line: str,
    note: str,
    rate: float,
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"latency-{broker}"
    latency_plot(latencies_ns, out / f"{stem}.png", f"{broker}: publish → delivery")
    write_json(rows, out / f"{stem}.json")
    lines = _header(f"Latency at a fixed rate: {broker}", machine_line, note)
    lines += [
        "Latency is publish → delivery: from just before the publish call to the moment the "
        "poll that returned the message came back, on one clock in the bench process.",
        "",
        f"Target rate {rate:,.0f} msg/s; msg/s below is the rate achieved (publish to last ack).",
        "",
        markdown_table(rows),
        *[
            f"**{row.mode} did not keep the rate**: the latencies include queueing.\n"
            for row in rows
            if row.msgs_per_s < 0.95 * rate
        ],
        *latency_summary(latencies_ns),
        "",
        f"![latency percentiles]({stem}.png)",
        "",
    ]
    path = out / f"{stem}.md"
    path.write_text("\n".join(lines))
    return path
