"""PNG plots of the scaling and latency runs (matplotlib, without a display)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.results import Row

MODES = ("direct", "dispatcher")


def scaling_plot(rows: Sequence[Row], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (throughput, cpu) = plt.subplots(1, 2, figsize=(10, 4))
    for mode in MODES:
        mine = sorted((r for r in rows if r.mode == mode), key=lambda r: r.workers)
        workers = [r.workers for r in mine]
        throughput.plot(workers, [r.msgs_per_s for r in mine], marker="o", label=mode)
        cpu.plot(workers, [r.cpu_s_per_10k for r in mine], marker="o", label=mode)
    throughput.set(xlabel="workers W", ylabel="messages / s", title="throughput")
    cpu.set(xlabel="workers W", ylabel="CPU s per 10k", title="CPU of the serving process")
    for axes in (throughput, cpu):
        axes.set_xticks(sorted({r.workers for r in rows}))
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


PERCENTILES = (0.5, 0.75, 0.9, 0.95, 0.99, 0.999)


def latency_plot(latencies_ns: Mapping[str, Sequence[int]], path: Path, title: str) -> None:
    """Latency at each percentile, one line per mode (samples sorted ascending)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.results import percentile_ms

    fig, axes = plt.subplots(figsize=(7, 4))
    labels = [f"p{p * 100:g}" for p in PERCENTILES]
    for mode, samples in latencies_ns.items():
        axes.plot(labels, [percentile_ms(samples, p) for p in PERCENTILES], marker="o", label=mode)
    axes.set(xlabel="percentile", ylabel="publish → delivery (ms)", title=title)
    axes.set_yscale("log")
    axes.grid(alpha=0.3, which="both")
    axes.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
