"""Dispatcher mode: the same work through the dispatcher's HTTP API.

Plain httpx clients with keep-alive (one per thread) and msgspec bodies, so the client's own
cost stays small and attributable: publish batches, long-poll up to a batch, ack by id.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import msgspec

from bench.targets import BenchError
from bench.workload import Envelope, Tracker, WireMessage, Workload

MAX_WAIT_MS = 100
HEADERS = {"content-type": "application/json"}
W = "/api/v1/worker"


class PublishBody(msgspec.Struct):
    name: str
    msgs: list[WireMessage]


class PollBody(msgspec.Struct):
    name: str
    max_wait_ms: int
    max_messages: int


class AckBody(msgspec.Struct):
    name: str
    msg_ids: list[int]


class PollReply(msgspec.Struct):
    msgs: list[Envelope]


class IdsReply(msgspec.Struct):
    failed_ids: list[int]
    bad_ids: list[int]
    error: str = ""


_encode = msgspec.json.Encoder().encode
_decode_poll = msgspec.json.Decoder(PollReply).decode
_decode_ids = msgspec.json.Decoder(IdsReply).decode


class DispatcherSession:
    """HTTP clients for one job on one dispatcher process (``pid``)."""

    mode = "dispatcher"

    def __init__(
        self, url: str, pid: int, job: str, workload: Workload, batch: int, workers: int
    ) -> None:
        self.url = url
        self.pid = pid
        self.job = job
        self.workload = workload
        self.batch = batch
        self.publisher = self._client()
        self.clients = [self._client() for _ in range(workers)]

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, headers=HEADERS)

    def publish(self, seqs: range) -> None:
        body = _encode(PublishBody(self.job, self.workload.wire(seqs)))
        _check(self.publisher.post(f"{W}/publish", content=body))

    def loops(self) -> list[Callable[[Tracker], None]]:
        return [self._loop(client) for client in self.clients]

    def _loop(self, client: httpx.Client) -> Callable[[Tracker], None]:
        poll_body = _encode(PollBody(self.job, MAX_WAIT_MS, self.batch))

        def run(tracker: Tracker) -> None:
            while not tracker.check_done():
                reply = _check(client.post(f"{W}/messages", content=poll_body))
                msgs = _decode_poll(reply.content).msgs
                if not msgs:
                    continue
                received = time.monotonic_ns()
                seqs = tracker.delivered(msgs, received)
                ack_body = _encode(AckBody(self.job, [m.id for m in msgs]))
                ids = _decode_ids(_check(client.post(f"{W}/ack", content=ack_body)).content)
                if ids.failed_ids or ids.bad_ids:
                    raise BenchError(
                        f"ack on the dispatcher at {self.url} failed for "
                        f"{len(ids.failed_ids)} ids, {len(ids.bad_ids)} unknown: {ids.error}"
                    )
                tracker.acked(seqs)

        return run

    def close(self) -> None:
        for client in [self.publisher, *self.clients]:
            client.close()


def _check(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        raise BenchError(
            f"dispatcher {response.request.url} answered {response.status_code}: "
            f"{response.text[:500]}"
        )
    return response
