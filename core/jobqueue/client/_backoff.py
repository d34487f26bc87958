"""Exponential backoff with jitter, for a worker that waits out an unavailable dispatcher."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``next()`` grows from ``initial_s`` by ``factor`` up to ``max_s``, each delay spread by
    +-``jitter`` (a fraction) so that many workers do not retry in step; ``reset()`` after a
    success."""

    initial_s: float = 0.1
    max_s: float = 5.0
    factor: float = 2.0
    jitter: float = 0.2
    _current: float = field(default=0.0, init=False)
    failures: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {self.initial_s}, {self.max_s}")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError(f"need factor >= 1 and 0 <= jitter < 1, got {self.factor}, "
                             f"{self.jitter}")  # fmt: skip

    def next(self) -> float:
        """The delay before the next attempt."""
        self.failures += 1
        self._current = min(self.max_s, self._current * self.factor or self.initial_s)
        return self._current * random.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.failures = 0
        self._current = 0.0
