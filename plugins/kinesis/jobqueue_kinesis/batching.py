"""Splitting a publish into PutRecords calls that respect Kinesis limits.

A PutRecords call takes at most 500 records and 5 MiB, and each record (data plus partition
key) at most 1 MiB. Batches keep the publish order, so records of one key stay in order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    """One record ready to send; ``index`` is its position in the caller's publish."""

    index: int
    data: bytes
    partition_key: str

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode("utf-8"))


def batches(entries: Sequence[Entry]) -> Iterator[list[Entry]]:
    """Consecutive runs of ``entries`` that each fit one PutRecords call (entries must fit)."""
    batch: list[Entry] = []
    size = 0
    for entry in entries:
        if batch and (len(batch) == MAX_RECORDS_PER_CALL or size + entry.size > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry.size
    if batch:
        yield batch
