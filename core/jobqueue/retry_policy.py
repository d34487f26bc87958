"""Where a failed message goes next: which retry queue, or the dead-letter queue.

The original service's rules: ``repeat_count`` 0 = never retry, -1 = forever, n = n retries;
``repeat_backoff`` -1 = the retry queue index follows the attempt number, i >= 0 = always
queue i; both clamped to the job's last retry queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobqueue.models import ErrorPolicy

DLQ = -1


@dataclass(frozen=True)
class RetryPolicy:
    """A job's retry queues (their backoffs in ms) and its default error policy."""

    backoffs: tuple[int, ...]
    default: ErrorPolicy | None = None

    def default_policy(self) -> ErrorPolicy:
        """Used for messages that carry no error policy: one pass through each retry queue."""
        return self.default or ErrorPolicy(repeat_count=len(self.backoffs), repeat_backoff=-1)

    def next_queue(self, attempt: int, policy: ErrorPolicy | None) -> int:
        """The retry queue index for a message that failed its ``attempt``-th delivery, or DLQ.

        ``attempt`` counts deliveries: 1 after the first poll, so ``attempt - 1`` retries
        have already happened.
        """
        policy = policy or self.default_policy()
        if not self.backoffs:
            return DLQ
        retries_done = max(attempt - 1, 0)
        if policy.repeat_count != -1 and retries_done >= policy.repeat_count:
            return DLQ
        index = retries_done if policy.repeat_backoff == -1 else policy.repeat_backoff
        return min(index, len(self.backoffs) - 1)

    def backoff_ms(self, queue: int) -> int:
        return self.backoffs[queue]
