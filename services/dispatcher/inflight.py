"""The in-flight table of one consumer job: messages handed to workers and not yet settled.

Keyed by message id; deadlines sit in a heap (lazy deletion) so expiry costs O(log n) per
message, never a scan per request.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobqueue.contract import Delivery
from jobqueue.models import Message

if TYPE_CHECKING:
    from jobqueue.dispatcher.receiver import Receiver


@dataclass(eq=False)
class InFlight:
    """A delivery a worker holds. ``message`` is None for dead-letter deliveries.

    ``redelivered`` holds later deliveries of the same record that the broker handed out
    again while a worker still held it (its lease ran out, e.g. after ``extend``): they are
    not handed out twice, and they are acked together with the entry.
    """

    id: int
    delivery: Delivery
    receiver: Receiver
    message: Message | None
    deadline: float
    settling: bool = field(default=False)
    redelivered: list[Delivery] = field(default_factory=list)
    lease_until: float = 0.0  # monotonic; until when the dispatcher last renewed its lease

    def deliveries(self) -> list[Delivery]:
        return [self.delivery, *self.redelivered]


class InFlightTable:
    def __init__(self) -> None:
        self._entries: dict[int, InFlight] = {}
        self._heap: list[tuple[float, int]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, msg_id: int) -> bool:
        return msg_id in self._entries

    def add(self, entry: InFlight) -> None:
        self._entries[entry.id] = entry
        heapq.heappush(self._heap, (entry.deadline, entry.id))

    def get(self, msg_id: int) -> InFlight | None:
        entry = self._entries.get(msg_id)
        return None if entry is None or entry.settling else entry

    def claim(self, msg_id: int) -> InFlight | None:
        """Mark an entry as being settled so no other ack, nack or expiry takes it."""
        entry = self.get(msg_id)
        if entry is not None:
            entry.settling = True
        return entry

    def release(self, entry: InFlight, deadline: float | None = None) -> None:
        """Settling failed: the entry is held again (until ``deadline`` if given)."""
        entry.settling = False
        if deadline is not None:
            entry.deadline = deadline
        heapq.heappush(self._heap, (entry.deadline, entry.id))

    def remove(self, entry: InFlight) -> None:
        if self._entries.get(entry.id) is entry:
            del self._entries[entry.id]

    def extend(self, msg_id: int, deadline: float) -> InFlight | None:
        """Hold the entry until ``deadline`` at least; None if ``msg_id`` is not held."""
        entry = self.get(msg_id)
        if entry is None:
            return None
        entry.deadline = max(entry.deadline, deadline)
        heapq.heappush(self._heap, (entry.deadline, msg_id))
        return entry

    def holds(self, entry: InFlight) -> bool:
        """Whether ``entry`` is still in the table (held, or being settled)."""
        return self._entries.get(entry.id) is entry

    def next_deadline(self) -> float | None:
        while self._heap:
            deadline, msg_id = self._heap[0]
            entry = self._entries.get(msg_id)
            if entry is not None and entry.deadline == deadline and not entry.settling:
                return deadline
            heapq.heappop(self._heap)
        return None

    def claim_expired(self, now: float) -> list[InFlight]:
        expired: list[InFlight] = []
        while (deadline := self.next_deadline()) is not None and deadline <= now:
            _, msg_id = heapq.heappop(self._heap)
            entry = self._entries[msg_id]
            entry.settling = True
            expired.append(entry)
        return expired

    def entries(self) -> list[InFlight]:
        return list(self._entries.values())
