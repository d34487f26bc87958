"""The poll strategy: which queue a worker asks first, round after round.

Each round, with ``free`` handler slots:

1. The *secondary* queues — the retry queues, and the DLQ when the worker has a DLQ handler —
   are polled without waiting (a retry queue only hands out messages whose backoff passed),
   in an order that rotates by one every round, so none of them can starve the others.
2. The main queue is polled last, with a long poll of ``poll_wait_ms`` if nothing came yet
   this round (without waiting otherwise).
3. If the secondary queues filled every slot so that the main queue was not polled, the next
   round polls main first. Under load the two sides alternate: neither starves.

A due retry message therefore waits at most one long poll (``poll_wait_ms``) plus the time
for a slot to free. The number of retry queues is given, or discovered: the worker polls
0, 1, 2... until the dispatcher answers that the queue does not exist, and re-probes the next
index every ``probe_every_s`` in case a new job version added queues.
"""

from __future__ import annotations

from typing import Literal

from jobqueue.models.job import MAX_RETRY_QUEUES

MAIN: Literal["main"] = "main"
DLQ: Literal["dlq"] = "dlq"
Source = int | Literal["main", "dlq"]


class PollPlan:
    def __init__(
        self,
        retry_queues: int | None,
        *,
        with_dlq: bool,
        probe_every_s: float = 30.0,
        dlq_backoff_max_s: float = 30.0,
    ) -> None:
        self.known = retry_queues
        self.fixed = retry_queues is not None
        self.with_dlq = with_dlq
        self.probe_every_s = probe_every_s
        self.dlq_backoff_max_s = dlq_backoff_max_s
        self.main_first = False
        self._rotation = 0
        self._next_probe = 0.0
        self._dlq_resume_at = 0.0
        self._dlq_delay = 0.0

    def round(self, now: float) -> list[Source]:
        """The queues to poll this round, in order."""
        secondary: list[Source]
        if self.known is None:
            secondary = list(range(MAX_RETRY_QUEUES))  # discovering: in order, no rotation
        else:
            secondary = list(range(self.known))
            if self.with_dlq and now >= self._dlq_resume_at:
                secondary.append(DLQ)
            if secondary:
                turn = self._rotation % len(secondary)
                secondary = secondary[turn:] + secondary[:turn]
            if not self.fixed and now >= self._next_probe and self.known < MAX_RETRY_QUEUES:
                self._next_probe = now + self.probe_every_s
                secondary.append(self.known)
        return [MAIN, *secondary] if self.main_first else [*secondary, MAIN]

    def wanted(self, source: Source) -> bool:
        """Whether ``source`` is still worth polling (discovery may have ruled it out)."""
        return not isinstance(source, int) or self.known is None or source <= self.known

    def end_round(self, main_polled: bool) -> None:
        self.main_first = not main_polled
        self._rotation += 1

    def retry_queue_missing(self, index: int) -> None:
        """The dispatcher says the job has no retry queue ``index``: it has ``index`` of them
        (when indexes below it exist)."""
        self.known = index if self.known is None else min(self.known, index)

    def retry_queue_exists(self, index: int) -> None:
        if self.known is not None and index >= self.known:
            self.known = index + 1

    def dlq_handler_failed(self, now: float) -> None:
        """Back off the DLQ: a failing DLQ handler would otherwise spin on the same letters."""
        self._dlq_delay = min(self.dlq_backoff_max_s, self._dlq_delay * 2 or 0.5)
        self._dlq_resume_at = now + self._dlq_delay

    def dlq_handler_succeeded(self) -> None:
        self._dlq_delay = 0.0
