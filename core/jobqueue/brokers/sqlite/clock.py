"""Wall-clock milliseconds: leases are compared across processes, so monotonic time won't do."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
