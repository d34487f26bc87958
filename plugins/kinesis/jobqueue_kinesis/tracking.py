"""Which records of one shard are in flight, and how far the group may checkpoint.

Deliveries are acked in any order, but a checkpoint says "everything up to here is done", so
it may only advance over the contiguous acked prefix: with 1, 2, 3 delivered and 1 and 3
acked, the checkpoint is 1 until 2 is acked, then 3.
"""

from __future__ import annotations

from collections import OrderedDict


class AckTracker:
    """Sequence numbers of one shard in delivery order, each marked acked or not."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, bool] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def delivered(self, sequence: str) -> None:
        """Record a delivery; sequence numbers must come in shard order."""
        self._pending[sequence] = False

    def ack(self, sequence: str) -> bool:
        """Mark a delivery acked; False if it is unknown here or was acked already."""
        if self._pending.get(sequence) is not False:
            return False
        self._pending[sequence] = True
        return True

    def advance(self) -> str | None:
        """Drop the acked prefix; the last sequence number dropped, or None if none was."""
        last: str | None = None
        while self._pending:
            sequence, acked = next(iter(self._pending.items()))
            if not acked:
                break
            self._pending.popitem(last=False)
            last = sequence
        return last

    @property
    def idle(self) -> bool:
        """Nothing delivered is waiting for an ack."""
        return not self._pending
