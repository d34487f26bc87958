"""Publishing to a Kinesis stream with PutRecords, retrying the records Kinesis rejects.

PutRecords is not all-or-nothing: each record succeeds or fails on its own (throttling,
internal errors). Failed records are sent again with exponential backoff, a bounded number of
times; whatever still fails is reported by index in `PublishFailed`. A record retried this way
may land after later records of its key, the one case where per-key order is not kept.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence

from jobqueue.contract import Producer, Record
from jobqueue.errors import BrokerUnavailable, PublishFailed
from jobqueue_kinesis.batching import MAX_RECORD_BYTES, Entry, batches
from jobqueue_kinesis.clients import Clients, aws_errors
from jobqueue_kinesis.config import BROKER_NAME
from jobqueue_kinesis.keys import KeyTooLong, partition_key

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 2.0


def backoff_s(retry: int) -> float:
    """Pause before retry number ``retry`` (1-based): exponential, capped, half jittered."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (retry - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class KinesisProducer(Producer):
    """Writes records to one stream; ``attempts`` bounds the tries per record."""

    def __init__(
        self,
        clients: Clients,
        stream: str,
        *,
        attempts: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clients = clients
        self._stream = stream
        self._attempts = attempts
        self._sleep = sleep
        self._closed = False

    def publish(self, records: Sequence[Record]) -> None:
        if self._closed:
            raise BrokerUnavailable(BROKER_NAME, self._clients.kinesis_address, "producer closed")
        failed, entries = self._prepare(records)
        runs = list(batches(entries))
        for position, batch in enumerate(runs):
            try:
                pending, reason = self._put(batch)
            except BrokerUnavailable as exc:
                unsent = [entry.index for run in runs[position:] for entry in run]
                failed.update(dict.fromkeys(unsent, exc.reason))
                raise PublishFailed(
                    BROKER_NAME, self._clients.kinesis_address, sorted(failed), exc.reason
                ) from exc
            failed.update(dict.fromkeys((entry.index for entry in pending), reason))
        if failed:
            first = failed[min(failed)]
            raise PublishFailed(
                BROKER_NAME,
                self._clients.kinesis_address,
                sorted(failed),
                f"stream {self._stream!r}: {first}",
            )

    def close(self) -> None:
        self._closed = True

    def _prepare(self, records: Sequence[Record]) -> tuple[dict[int, str], list[Entry]]:
        """Entries to send, and the reasons of records that can never be sent."""
        failed: dict[int, str] = {}
        entries: list[Entry] = []
        for index, record in enumerate(records):
            try:
                entry = Entry(index, record.payload, partition_key(record.key))
            except KeyTooLong as exc:
                failed[index] = str(exc)
                continue
            if entry.size > MAX_RECORD_BYTES:
                failed[index] = (
                    f"record of {entry.size} bytes (payload and partition key) exceeds the "
                    f"Kinesis limit of {MAX_RECORD_BYTES} bytes"
                )
                continue
            entries.append(entry)
        return failed, entries

    def _put(self, batch: list[Entry]) -> tuple[list[Entry], str]:
        """Send ``batch``, retrying rejected records; returns those still rejected and why.

        Raises `BrokerUnavailable` when a call fails as a whole; records accepted by earlier
        attempts are then reported as unsent too, which errs on the side of duplicates.
        """
        pending = batch
        reason = ""
        for attempt in range(1, self._attempts + 1):
            if attempt > 1:
                self._sleep(backoff_s(attempt - 1))
            with aws_errors(self._clients.kinesis_address, f"PutRecords to {self._stream!r}"):
                response = self._clients.kinesis.put_records(
                    StreamName=self._stream,
                    Records=[
                        {"Data": entry.data, "PartitionKey": entry.partition_key}
                        for entry in pending
                    ],
                )
            rejected: list[Entry] = []
            for entry, result in zip(pending, response["Records"], strict=True):
                if result.get("ErrorCode"):
                    rejected.append(entry)
                    reason = f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}".rstrip()
            if not rejected:
                return [], ""
            log.debug(
                "PutRecords to %r: %d of %d records rejected (attempt %d of %d): %s",
                self._stream,
                len(rejected),
                len(pending),
                attempt,
                self._attempts,
                reason,
            )
            pending = rejected
        return pending, f"still rejected after {self._attempts} attempts ({reason})"
