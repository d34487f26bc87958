"""Which records of one shard are in flight, how far the group may checkpoint, what to skip.

Deliveries are acked in any order, but a checkpoint says "everything up to here is done", so
it only advances over the contiguous acked prefix: with 1, 2, 3 delivered and 1 and 3 acked,
the checkpoint is 1 until 2 is acked, then 3. Records acked past the checkpoint are kept as
runs of consecutive records (3..3 here), stored with the checkpoint, so that whoever reads the
shard next skips them: an acked record is never handed out again, even after a restart.

Reading a shard is sequential, so consecutive deliveries are consecutive records of the
shard and a run ``(first, last)`` covers exactly the records numbered first..last.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence

from jobqueue_kinesis.leases import Run

MAX_RUNS = 1_000
"""Runs kept past the checkpoint; beyond this, later acked records may come again."""


class AckTracker:
    """Sequence numbers of one shard in delivery order, each marked acked or not.

    ``skip``: runs acked by a previous owner past the checkpoint this reader starts from.
    """

    def __init__(self, skip: Sequence[Run] = ()) -> None:
        self._pending: OrderedDict[str, bool] = OrderedDict()
        self._unacked = 0
        self._skip: deque[tuple[int, int, Run]] = deque(
            sorted((int(first), int(last), (first, last)) for first, last in skip)
        )

    @property
    def unacked(self) -> int:
        """Deliveries waiting for an ack."""
        return self._unacked

    @property
    def idle(self) -> bool:
        """Nothing delivered is waiting for an ack."""
        return self._unacked == 0

    def delivered(self, sequence: str) -> bool:
        """Record the next record read; False if it was acked before and must be skipped."""
        number = int(sequence)
        while self._skip and self._skip[0][1] < number:
            self._skip.popleft()
        acked = bool(self._skip) and self._skip[0][0] <= number
        self._pending[sequence] = acked
        if not acked:
            self._unacked += 1
        return not acked

    def ack(self, sequence: str) -> bool:
        """Mark a delivery acked; False if it is unknown here or was acked already."""
        if self._pending.get(sequence) is not False:
            return False
        self._pending[sequence] = True
        self._unacked -= 1
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

    def runs(self) -> list[Run]:
        """Acked runs past the acked prefix, then inherited runs not read yet (at most MAX_RUNS)."""
        runs: list[Run] = []
        first: str | None = None
        last = ""
        for sequence, acked in self._pending.items():
            if acked:
                first = first or sequence
                last = sequence
            elif first is not None:
                runs.append((first, last))
                first = None
        if first is not None:
            runs.append((first, last))
        runs.extend(run for _, _, run in self._skip)
        return runs[:MAX_RUNS]
