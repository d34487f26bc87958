"""Message ids: unique, time-ordered and JavaScript-safe (below 2**53).

Layout (53 bits): 41 bits of milliseconds since 2025-01-01 (good for ~69 years), 5 bits of a
per-process random node number, 7 bits of sequence within the millisecond. When a process
needs more than 128 ids in one millisecond it borrows from the next one, so ids stay unique
and increasing within a process.
"""

from __future__ import annotations

import random
import threading
import time

EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
NODE_BITS = 5
SEQ_BITS = 7


class IdGenerator:
    def __init__(self, node: int | None = None) -> None:
        self._node = (random.getrandbits(NODE_BITS) if node is None else node) & (
            (1 << NODE_BITS) - 1
        )
        self._last = 0
        self._lock = threading.Lock()

    def next_ids(self, count: int) -> list[int]:
        with self._lock:
            now = (int(time.time() * 1000) - EPOCH_MS) << SEQ_BITS
            start = max(now, self._last + 1)
            self._last = start + count - 1
        return [self._compose(tick) for tick in range(start, start + count)]

    def _compose(self, tick: int) -> int:
        millis, seq = divmod(tick, 1 << SEQ_BITS)
        return (((millis << NODE_BITS) | self._node) << SEQ_BITS) | seq
