"""What a `Worker` did, counted: the numbers an operator or a test checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class WorkerStats:
    """Counters since the worker started (read them from any thread; they only grow).

    ``acked``/``nacked`` count settles the dispatcher confirmed. ``stale`` counts settles of
    ids it no longer held (the lease had expired: the message was retried or redelivered
    anyway). ``unsettled`` counts outcomes that never reached it (re-subscribe after a
    dispatcher restart, or shutdown while it was unreachable): those messages come back after
    their lease. ``abandoned`` counts handlers still running at the shutdown deadline (nacked).
    """

    received: int = 0
    dead_letters_received: int = 0
    succeeded: int = 0
    failed: int = 0
    acked: int = 0
    nacked: int = 0
    stale: int = 0
    unsettled: int = 0
    abandoned: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
