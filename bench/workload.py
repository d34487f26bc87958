"""The benchmark's messages and the bookkeeping of what came back.

Every message carries its sequence number and the monotonic time it was published, so
latency is measured from the publish call to the delivery, in the bench process, with one
clock. Both modes send the same bytes: the dispatcher's wire message with the same ``data``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import msgspec

from jobqueue.contract import Record
from jobqueue.models import Message


class Data(msgspec.Struct, array_like=True):
    """``data`` of a benchmark message: ``[seq, sent_ns, pad]``."""

    seq: int
    sent_ns: int
    pad: str = ""


class Envelope(msgspec.Struct):
    """The fields of a wire message the bench reads back (the rest is ignored)."""

    data: Data
    id: int = 0


class WireMessage(msgspec.Struct, omit_defaults=True):
    """What the bench publishes: the dispatcher's wire message, trimmed to what it uses."""

    data: Data
    external_id: str = ""
    name: str = "bench"


_encode = msgspec.json.Encoder().encode
decode_envelope = msgspec.json.Decoder(Envelope).decode


class Workload:
    """Builds the messages of one run: ``messages`` of ``payload_bytes`` of padding each.

    Each message has its own ``external_id`` (so its own broker key), as when it names a
    business object: keyed brokers spread them over partitions, and no message waits for
    another one of its key (the embedded broker holds a key back while one of it is leased).
    """

    def __init__(self, messages: int, payload_bytes: int = 100) -> None:
        self.messages = messages
        self.pad = "x" * payload_bytes

    def wire(self, seqs: Iterable[int]) -> list[WireMessage]:
        """Messages stamped now, for the HTTP publish body."""
        sent = time.monotonic_ns()
        return [WireMessage(Data(seq, sent, self.pad), external_id=f"m{seq}") for seq in seqs]

    def records(self, seqs: Iterable[int]) -> list[Record]:
        """The same messages as broker records: the bytes and key the dispatcher would write."""
        records: list[Record] = []
        for wire in self.wire(seqs):
            message = Message(
                external_id=wire.external_id, name=wire.name, data=msgspec.Raw(_encode(wire.data))
            )
            records.append(Record(_encode(message), wire.external_id.encode()))
        return records


class Tracker:
    """What one phase of a run received: latencies, acked sequence numbers, duplicates.

    The phase owns sequence numbers ``first .. first + messages - 1``; a delivery from another
    phase (a warm-up message redelivered after a rebalance) is acked but not counted.
    ``done`` is set once every message was acked and ``min_duration_s`` has passed (a warm-up
    may need to outlast a consumer-group rebalance). Thread-safe.
    """

    def __init__(self, messages: int, first: int = 0, min_duration_s: float = 0.0) -> None:
        self.messages = messages
        self.first = first
        self.min_duration_s = min_duration_s
        self.latencies_ns: list[int] = []
        self.duplicates = 0
        self.strays = 0
        self.done = threading.Event()
        self.failed: BaseException | None = None
        self.started = 0.0
        self.finished = 0.0
        self._acked = bytearray(messages)
        self._count = 0
        self._lock = threading.Lock()

    @property
    def seqs(self) -> range:
        return range(self.first, self.first + self.messages)

    def start(self) -> None:
        self.started = time.monotonic()

    def delivered(self, envelopes: Iterable[Envelope], received_ns: int) -> list[int]:
        """Record the latency of each delivered message; returns their sequence numbers."""
        seqs: list[int] = []
        latencies: list[int] = []
        end = self.first + self.messages
        for envelope in envelopes:
            seq = envelope.data.seq
            seqs.append(seq)
            if self.first <= seq < end:
                latencies.append(received_ns - envelope.data.sent_ns)
        with self._lock:
            self.latencies_ns.extend(latencies)
        return seqs

    def acked(self, seqs: Iterable[int]) -> None:
        with self._lock:
            for seq in seqs:
                index = seq - self.first
                if not 0 <= index < self.messages:
                    self.strays += 1
                elif self._acked[index]:
                    self.duplicates += 1
                else:
                    self._acked[index] = 1
                    self._count += 1
            if self._count == self.messages and not self.finished:
                self.finished = time.monotonic()
        self.check_done()

    def check_done(self) -> bool:
        """Whether the phase is over (all acked and long enough, or failed)."""
        if self.finished and time.monotonic() >= self.started + self.min_duration_s:
            self.done.set()
        return self.done.is_set()

    def fail(self, exc: BaseException) -> None:
        """A worker thread failed: stop the phase; the runner re-raises it."""
        with self._lock:
            if self.failed is None:
                self.failed = exc
        self.done.set()

    @property
    def count(self) -> int:
        return self._count

    @property
    def elapsed_s(self) -> float:
        return self.finished - self.started
