"""What a result was measured on: CPU model and count, Python, load, and when."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe() -> str:
    """One line, e.g. ``2 x AMD EPYC, Python 3.11.7, Linux 6.1, load 1.2 / 0.9 / 1.0``."""
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} x {cpu_model()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average {load} (1/5/15 min) at start"
    )


def timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
