"""Consuming a stream as one member of a consumer group, at least once.

A poll hands out, in this order:

1. the consumer's own pending entries, once, when it starts (``XREADGROUP ... 0``): a process
   restarted with the same instance id gets back what it held when it died;
2. entries of any consumer of the group idle for longer than ``lease_ms`` (``XAUTOCLAIM``):
   a dead consumer's work, or work handed back by a closed one; Redis keeps counting the
   deliveries of each entry;
3. new entries (``XREADGROUP ... >``), blocking in slices of at most `BLOCK_SLICE_S` so that
   step 2 runs again while a long poll waits.

``close`` hands the consumer's pending entries back at once instead of letting their lease run
out: they move to the placeholder consumer `RELEASED` marked idle for years, so the next
``XAUTOCLAIM`` of any consumer takes them, and the closed consumer is deleted from the group.

Trim policy: acked entries are not ``XDEL``-ed, because several groups may read one stream and
one group's ack says nothing about the others. Instead every ack runs a script that ``XACK``s
and then trims (``XTRIM MINID``) the entries that *every* group has acknowledged (those below
each group's lowest pending id, or up to its last-delivered id when nothing is pending) and
that are older than ``retention_ms``, so that a group created a little later (a new job on
the topic) still reads them. An idle consumer runs the same trim once per retention period,
so the last acked entries go too once traffic stops. A stream that no group reads is never
trimmed, and a group that stops reading holds the stream back: destroy a retired job's group
(``XGROUP DESTROY``).
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis

from jobqueue.contract import Consumer, Delivery
from jobqueue_redis._errors import describe, translated
from jobqueue_redis.config import RedisConfig
from jobqueue_redis.entries import decode
from jobqueue_redis.scripts import Scripts, run

log = logging.getLogger(__name__)

BLOCK_SLICE_S = 1.0
RELEASED = "jobqueue:released"
HAND_BACK_IDLE_MS = 10 * 365 * 24 * 3600 * 1000
HAND_BACK_PAGE = 1000
FORGET_CONSUMERS_IDLE_MS = 3600 * 1000
IDLE_TRIM_MIN_S = 1.0

# Consumer names count per stream and group within the process: the first consumer of a group
# on a stream is always "<instance id>-1", so a process restarted with the same instance id
# reads back what its previous life held there (step 1 above), whatever order it opens them.
_sequences: dict[tuple[str, str], itertools.count[int]] = {}
_sequences_lock = threading.Lock()


def _next_name(instance_id: str, key: str, group: str) -> str:
    with _sequences_lock:
        sequence = _sequences.setdefault((key, group), itertools.count(1))
        return f"{instance_id}-{next(sequence)}"


Entry = tuple[bytes, dict[bytes, bytes] | None]


class RedisConsumer(Consumer):
    """One member of ``group`` on one stream, named after the process's instance id."""

    def __init__(
        self,
        client: redis.Redis,
        scripts: Scripts,
        config: RedisConfig,
        topic: str,
        group: str,
        *,
        lease_ms: int,
        instance_id: str,
    ) -> None:
        self._client = client
        self._scripts = scripts
        self._config = config
        self._key = config.key(topic)
        self._group = group
        self._lease_ms = lease_ms
        self.name = _next_name(instance_id, self._key, group)
        self._group_ready = False
        self._joined = False
        self._own_cursor: bytes | None = b"0"
        self._claim_cursor: bytes = b"0-0"
        self._closed = False
        self._trimmed_at = time.monotonic()
        # With a retention, entries acked at the end of a burst expire later; an idle consumer
        # trims them then, since no ack will.
        retention_s = config.retention_ms / 1000
        self._trim_every_s = max(retention_s, IDLE_TRIM_MIN_S) if retention_s else math.inf

    def poll(self, max_records: int, timeout_s: float) -> list[Delivery]:
        if self._closed:
            raise RuntimeError(f"consumer {self.name} of {self._key} is closed")
        if max_records < 1:
            return []
        deadline = time.monotonic() + max(0.0, timeout_s)
        with translated(self._config):
            try:
                return self._poll(max_records, deadline)
            except redis.ResponseError as exc:
                if not _is_nogroup(exc):
                    raise
                # The stream or its group vanished (deleted, or a server without
                # persistence restarted): create them again and carry on.
                self._group_ready = False
                return self._poll(max_records, deadline)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            self._on_pending(self._ack_and_trim, deliveries)

    def extend(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            self._on_pending(
                lambda ids: run(self._scripts.renew, [self._key], [self._group, self.name, *ids]),
                deliveries,
            )

    def _on_pending(
        self, call: Callable[[list[Any]], object], deliveries: Sequence[Delivery]
    ) -> None:
        """Run ``call`` on the entry ids of ``deliveries``. Without the group there are no
        pending entries, so there is nothing to acknowledge or renew."""
        with translated(self._config):
            try:
                call([delivery.handle for delivery in deliveries])
            except redis.ResponseError as exc:
                if not _is_nogroup(exc):
                    raise

    def close(self) -> None:
        """Hand pending entries back to the group; never raises (leases cover a failure)."""
        if self._closed:
            return
        self._closed = True
        if not self._joined:
            return
        try:
            while True:
                moved = run(
                    self._scripts.hand_back,
                    [self._key],
                    [self._group, self.name, RELEASED, HAND_BACK_IDLE_MS, HAND_BACK_PAGE],
                )
                if moved < HAND_BACK_PAGE:
                    return
        except redis.ResponseError as exc:
            if not _is_nogroup(exc):
                self._warn_close(exc)
        except (redis.RedisError, OSError) as exc:
            self._warn_close(exc)

    def _ack_and_trim(self, ids: list[Any]) -> None:
        run(self._scripts.ack_and_trim, [self._key], [self._group, self._config.retention_ms, *ids])
        self._trimmed_at = time.monotonic()

    def _warn_close(self, exc: BaseException) -> None:
        log.warning(
            "redis broker at %s: consumer %s could not hand back its pending entries of %s "
            "(%s); they return to the group after their lease of %d ms",
            self._config.address(),
            self.name,
            self._key,
            describe(exc, self._config.secrets()),
            self._lease_ms,
        )

    def _poll(self, max_records: int, deadline: float) -> list[Delivery]:
        self._ensure_group()
        while self._own_cursor is not None:
            own = self._read_own(max_records)
            if own:
                return own
        while True:
            claimed = self._claim(max_records)
            if claimed:
                return claimed
            remaining = deadline - time.monotonic()
            block_ms = int(min(remaining, BLOCK_SLICE_S) * 1000)
            fresh = self._read(b">", max_records, block_ms if block_ms > 0 else None)
            if fresh:
                return self._deliver(fresh)
            if time.monotonic() - self._trimmed_at >= self._trim_every_s:
                self._ack_and_trim([])
            if time.monotonic() >= deadline:
                return []

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._client.xgroup_create(self._key, self._group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._joined = True  # from now on this consumer may hold entries
        run(
            self._scripts.forget_idle_consumers,
            [self._key],
            [self._group, FORGET_CONSUMERS_IDLE_MS],
        )
        self._group_ready = True

    def _read_own(self, max_records: int) -> list[Delivery]:
        """The next page of this consumer's own pending entries; ends the phase when none."""
        assert self._own_cursor is not None
        entries = self._read(self._own_cursor, max_records, None)
        if not entries:
            self._own_cursor = None
            return []
        self._own_cursor = entries[-1][0]
        return self._deliver(entries)

    def _read(self, start: bytes, count: int, block_ms: int | None) -> list[Entry]:
        reply = self._client.xreadgroup(
            self._group, self.name, {self._key: start}, count=count, block=block_ms
        )
        if not reply:
            return []
        return cast(list[Entry], cast(list[Any], reply)[0][1])

    def _claim(self, max_records: int) -> list[Delivery]:
        reply = self._client.xautoclaim(
            self._key,
            self._group,
            self.name,
            min_idle_time=self._lease_ms,
            start_id=self._claim_cursor,
            count=max_records,
        )
        self._claim_cursor = reply[0]
        return self._deliver(cast(list[Entry], reply[1]))

    def _deliver(self, entries: list[Entry]) -> list[Delivery]:
        deliveries: list[Delivery] = []
        gone: list[bytes] = []
        for entry_id, fields in entries:
            if fields:
                deliveries.append(decode(entry_id, fields))
            else:
                gone.append(entry_id)
        if gone:
            # Pending entries whose data was trimmed away (``maxlen``): nothing to deliver,
            # so drop them from the pending list.
            self._client.xack(self._key, self._group, *gone)
        return deliveries


def _is_nogroup(exc: redis.ResponseError) -> bool:
    return str(exc).startswith("NOGROUP")
