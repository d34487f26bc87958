"""The benchmark CLI runs end to end with tiny N and writes well-formed results.

These are smoke tests: real servers, real processes, no assertion on speed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ROW_KEYS = {
    "broker", "mode", "messages", "batch", "workers",
    "msgs_per_s", "p50_ms", "p99_ms", "cpu_s_per_10k", "rss_mb",
}  # fmt: skip
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_bench(*args: str, timeout_s: float = 240) -> subprocess.CompletedProcess[str]:
    """``python -m bench ARGS`` from the repository root; fails the test on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert result.returncode == 0, f"bench {args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def check_rows(rows: Any, broker: str, messages: int, batch: int, workers: set[int]) -> None:
    assert isinstance(rows, list)
    assert {(row["mode"], row["workers"]) for row in rows} == {
        (mode, w) for mode in ("direct", "dispatcher") for w in workers
    }
    for row in rows:
        assert row.keys() >= ROW_KEYS, f"missing {ROW_KEYS - row.keys()} in {row}"
        assert row["broker"] == broker
        assert (row["messages"], row["batch"]) == (messages, batch)
        for key in ("msgs_per_s", "p50_ms", "p99_ms", "cpu_s_per_10k", "rss_mb"):
            assert isinstance(row[key], float) and math.isfinite(row[key]), (key, row)
        assert row["msgs_per_s"] > 0 and row["rss_mb"] > 0
        assert 0 <= row["p50_ms"] <= row["p99_ms"]
        assert row["cpu_s_per_10k"] >= 0


@pytest.mark.parametrize("broker", ["sqlite", "redis"])
def test_compare_writes_one_row_per_mode(broker: str, tmp_path: Path) -> None:
    """`python -m bench --broker B --json F` measures both modes and writes their rows."""
    out = tmp_path / "rows.json"
    result = run_bench(
        "--broker", broker, "--messages", "60", "--batch", "20", "--workers", "2",
        "--json", str(out),
    )  # fmt: skip
    check_rows(json.loads(out.read_text()), broker, 60, 20, {2})
    assert "dispatcher" in result.stdout and "direct" in result.stdout  # the printed table


def test_scaling_writes_markdown_plot_and_rows(tmp_path: Path) -> None:
    """`bench scaling` measures each worker count in both modes and writes md, png and json."""
    run_bench(
        "scaling", "--broker", "sqlite", "--messages", "40", "--batch", "10",
        "--workers", "1,2", "--out", str(tmp_path),
    )  # fmt: skip
    check_rows(json.loads((tmp_path / "scaling-sqlite.json").read_text()), "sqlite", 40, 10, {1, 2})
    report = (tmp_path / "scaling-sqlite.md").read_text()
    assert "dispatcher / direct" in report and "(scaling-sqlite.png)" in report
    assert (tmp_path / "scaling-sqlite.png").read_bytes().startswith(PNG_SIGNATURE)


def test_latency_writes_markdown_plot_and_rows(tmp_path: Path) -> None:
    """`bench latency` publishes at a fixed rate in both modes and reports percentiles."""
    run_bench(
        "latency", "--broker", "sqlite", "--rate", "200", "--duration", "0.5",
        "--out", str(tmp_path),
    )  # fmt: skip
    rows = json.loads((tmp_path / "latency-sqlite.json").read_text())
    check_rows(rows, "sqlite", 100, 100, {1})
    report = (tmp_path / "latency-sqlite.md").read_text()
    assert "Added by the dispatcher" in report and "(latency-sqlite.png)" in report
    assert (tmp_path / "latency-sqlite.png").read_bytes().startswith(PNG_SIGNATURE)


def test_unknown_broker_is_a_usage_error() -> None:
    """A broker the bench does not know is refused before anything starts."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--broker", "nats", "--json", "x.json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "nats" in result.stderr
