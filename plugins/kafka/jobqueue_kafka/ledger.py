"""Which offsets of each assigned partition are safe to commit, and which acks lie beyond.

Kafka keeps one committed offset per partition: committing offset ``n`` says every record
below ``n`` is done. Acks arrive in any order, so the ledger remembers, per partition, the
offsets handed out and the ones acked: the contiguous acked prefix moves the committed offset,
and acks past the first un-acked record travel in the commit's metadata (`acked_ranges`), so
the partition's next owner skips them instead of handing them out again.

A partition's entries belong to one assignment *generation*; when the partition is revoked
they are dropped, and a later ack of one of its deliveries is recognised as stale by its
generation and ignored (the record goes to the partition's next owner).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import count

from jobqueue_kafka import acked_ranges
from jobqueue_kafka.acked_ranges import Range

TopicPartitionKey = tuple[str, int]
Stored = tuple[int, str]  # a committed offset and its metadata ("" for none)

# One counter for the whole process, so a handle from one consumer never matches a partition
# generation of another (a caller acking on the wrong consumer is ignored, not misapplied).
_generations = count(1)


@dataclass(frozen=True, slots=True)
class Handle:
    """The opaque `Delivery.handle` of a Kafka delivery."""

    topic: str
    partition: int
    offset: int
    generation: int


class PartitionLedger:
    """Handed-out and acked offsets of one partition during one assignment."""

    __slots__ = ("_inherited", "_open", "_outstanding", "committed", "generation", "safe")

    def __init__(self, generation: int, stored: Stored | None = None) -> None:
        self.generation = generation
        self._outstanding: deque[int] = deque()  # handed out, in offset order, not yet safe
        self._open: set[int] = set()  # members of _outstanding not acked yet
        # Acked by an earlier owner past its committed offset: skipped when fetched.
        self._inherited: deque[Range] = deque(
            acked_ranges.decode(stored[0], stored[1]) if stored else ()
        )
        self.safe: int | None = None  # one past the contiguous acked prefix
        self.committed: Stored | None = stored  # what the group has stored for the partition

    def handed_out(self, offset: int) -> bool:
        """Record a fetched offset; False when an earlier owner acked it (do not deliver)."""
        self._outstanding.append(offset)
        if self._acked_earlier(offset):
            self._advance()
            return False
        self._open.add(offset)
        return True

    def _acked_earlier(self, offset: int) -> bool:
        while self._inherited and self._inherited[0][1] < offset:
            self._inherited.popleft()
        return bool(self._inherited) and self._inherited[0][0] <= offset

    def ack(self, offset: int) -> None:
        if offset not in self._open:
            return  # never handed out in this assignment, or acked already
        self._open.discard(offset)
        self._advance()

    def _advance(self) -> None:
        while self._outstanding and self._outstanding[0] not in self._open:
            self.safe = self._outstanding.popleft() + 1

    @property
    def in_flight(self) -> int:
        return len(self._open)

    def _acked_beyond(self) -> list[Range]:
        ranges: list[Range] = []
        start: int | None = None
        previous = 0
        for offset in self._outstanding:
            if offset in self._open:
                if start is not None:
                    ranges.append((start, previous))
                    start = None
            else:
                start = offset if start is None else start
                previous = offset
        if start is not None:
            ranges.append((start, previous))
        return ranges + list(self._inherited)

    def state(self, metadata_limit: int) -> Stored | None:
        """The offset and metadata to store now; None before anything was handed out."""
        if self.safe is not None:
            position = self.safe
        elif self._outstanding:
            position = self._outstanding[0]  # the first un-acked record
        else:
            return None
        metadata = acked_ranges.encode(position, self._acked_beyond(), metadata_limit)
        return position, metadata

    def uncommitted(self, metadata_limit: int) -> Stored | None:
        """What to commit, if it differs from what the group has stored (never backwards)."""
        state = self.state(metadata_limit)
        if state is None or state == self.committed:
            return None
        if self.safe is None and not state[1] and self.committed is None:
            return None  # nothing acked yet: nothing worth storing
        if self.committed is not None and state[0] < self.committed[0]:
            return None
        return state


class OffsetLedger:
    """The `PartitionLedger` of every partition this consumer currently owns.

    ``metadata_limit``: most characters of commit metadata to write (0 turns it off).
    """

    def __init__(self, metadata_limit: int = acked_ranges.DEFAULT_LIMIT) -> None:
        self._partitions: dict[TopicPartitionKey, PartitionLedger] = {}
        self.metadata_limit = metadata_limit

    def assign(self, partitions: dict[TopicPartitionKey, Stored | None]) -> None:
        """Take over partitions, with what the group had stored for each (if known)."""
        for key, stored in partitions.items():
            self._partitions[key] = PartitionLedger(next(_generations), stored)

    def revoke(self, partitions: list[TopicPartitionKey]) -> None:
        """Forget these partitions; acks of their deliveries are ignored from now on."""
        for key in partitions:
            self._partitions.pop(key, None)

    def handed_out(self, topic: str, partition: int, offset: int) -> Handle | None:
        """A handle for a fetched record; None when it must not be delivered (its partition is
        not assigned here, or an earlier owner acked it)."""
        ledger = self._partitions.get((topic, partition))
        if ledger is None or not ledger.handed_out(offset):
            return None
        return Handle(topic, partition, offset, ledger.generation)

    def is_current(self, handle: object) -> bool:
        """Whether ``handle`` belongs to a partition assignment this consumer still holds."""
        if not isinstance(handle, Handle):
            return False
        ledger = self._partitions.get((handle.topic, handle.partition))
        return ledger is not None and ledger.generation == handle.generation

    def ack(self, handle: Handle) -> bool:
        """Record an ack; False when the handle is stale (its partition was revoked since)."""
        if not self.is_current(handle):
            return False
        self._partitions[(handle.topic, handle.partition)].ack(handle.offset)
        return True

    def uncommitted(
        self, only: list[TopicPartitionKey] | None = None
    ) -> dict[TopicPartitionKey, Stored]:
        """Offset and metadata to commit, per partition whose state changed since stored."""
        keys = list(self._partitions) if only is None else only
        result: dict[TopicPartitionKey, Stored] = {}
        for key in keys:
            ledger = self._partitions.get(key)
            state = ledger.uncommitted(self.metadata_limit) if ledger is not None else None
            if state is not None:
                result[key] = state
        return result

    def committed(self, stored: dict[TopicPartitionKey, Stored]) -> None:
        for key, state in stored.items():
            ledger = self._partitions.get(key)
            if ledger is not None:
                ledger.committed = state

    def in_flight(self) -> int:
        return sum(ledger.in_flight for ledger in self._partitions.values())
