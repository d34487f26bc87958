"""Which offsets of each assigned partition are safe to commit.

Kafka keeps one committed offset per partition: committing offset ``n`` says every record
below ``n`` is done. Acks arrive in any order, so the ledger remembers, per partition, the
offsets handed out and the ones acked, and only the contiguous acked prefix becomes
committable. A partition's entries belong to one assignment *generation*; when the partition
is revoked they are dropped, and a later ack of one of its deliveries is recognised as stale
by its generation and ignored (the record goes to the partition's next owner).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import count

TopicPartitionKey = tuple[str, int]

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

    __slots__ = ("_open", "_outstanding", "committed", "generation", "safe")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self._outstanding: deque[int] = deque()  # handed out, in offset order, not yet safe
        self._open: set[int] = set()  # members of _outstanding not acked yet
        self.safe: int | None = None  # offset to commit: one past the contiguous acked prefix
        self.committed: int | None = None  # last offset committed by this consumer

    def handed_out(self, offset: int) -> None:
        self._outstanding.append(offset)
        self._open.add(offset)

    def ack(self, offset: int) -> None:
        if offset not in self._open:
            return  # never handed out in this assignment, or acked already
        self._open.discard(offset)
        while self._outstanding and self._outstanding[0] not in self._open:
            self.safe = self._outstanding.popleft() + 1

    @property
    def in_flight(self) -> int:
        return len(self._open)

    def uncommitted(self) -> int | None:
        """The offset to commit, if the safe prefix moved past what was last committed."""
        if self.safe is None or (self.committed is not None and self.safe <= self.committed):
            return None
        return self.safe


class OffsetLedger:
    """The `PartitionLedger` of every partition this consumer currently owns."""

    def __init__(self) -> None:
        self._partitions: dict[TopicPartitionKey, PartitionLedger] = {}

    def assign(self, partitions: list[TopicPartitionKey]) -> None:
        for key in partitions:
            self._partitions[key] = PartitionLedger(next(_generations))

    def revoke(self, partitions: list[TopicPartitionKey]) -> None:
        """Forget these partitions; acks of their deliveries are ignored from now on."""
        for key in partitions:
            self._partitions.pop(key, None)

    def handed_out(self, topic: str, partition: int, offset: int) -> Handle:
        key = (topic, partition)
        ledger = self._partitions.get(key)
        if ledger is None:  # a record before its assignment callback ran; start a generation
            ledger = self._partitions[key] = PartitionLedger(next(_generations))
        ledger.handed_out(offset)
        return Handle(topic, partition, offset, ledger.generation)

    def ack(self, handle: Handle) -> bool:
        """Record an ack; False when the handle is stale (its partition was revoked since)."""
        ledger = self._partitions.get((handle.topic, handle.partition))
        if ledger is None or ledger.generation != handle.generation:
            return False
        ledger.ack(handle.offset)
        return True

    def uncommitted(
        self, only: list[TopicPartitionKey] | None = None
    ) -> dict[TopicPartitionKey, int]:
        """Offsets to commit, per partition whose safe prefix moved since its last commit."""
        keys = self._partitions.keys() if only is None else only
        result: dict[TopicPartitionKey, int] = {}
        for key in keys:
            ledger = self._partitions.get(key)
            offset = ledger.uncommitted() if ledger is not None else None
            if offset is not None:
                result[key] = offset
        return result

    def committed(self, offsets: dict[TopicPartitionKey, int]) -> None:
        for key, offset in offsets.items():
            ledger = self._partitions.get(key)
            if ledger is not None and (ledger.committed is None or offset > ledger.committed):
                ledger.committed = offset

    def in_flight(self) -> int:
        return sum(ledger.in_flight for ledger in self._partitions.values())
