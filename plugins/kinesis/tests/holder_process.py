"""A consumer process for the crash test: reads its share, acks some, waits to be SIGKILLed.

Usage: ``python holder_process.py ENDPOINT STREAM GROUP LEASE_MS``. Polls forever (so that its
leases stay renewed and handoffs are served), acks records whose payload ends in an even
digit and keeps the others un-acked. Prints ``SHARDS a,b`` whenever the shards it holds
change, then ``ACKED <hex>`` once an ack returned and ``KEPT <hex>`` for each record kept.
"""

from __future__ import annotations

import sys

from jobqueue.contract import BrokerContext
from jobqueue_kinesis import KinesisBroker
from jobqueue_kinesis.testserver import MotoEndpoint


def main(endpoint: str, stream: str, group: str, lease_ms: str) -> None:
    broker = KinesisBroker(MotoEndpoint(endpoint).config(stream), BrokerContext(timeout_s=5.0))
    consumer = broker.consumer(stream, group, lease_ms=int(lease_ms))
    shown: list[str] | None = None
    while True:
        batch = consumer.poll(50, 0.2)
        if consumer.held_shards != shown:
            shown = consumer.held_shards
            print("SHARDS", ",".join(shown), flush=True)
        acked = [d for d in batch if d.payload[-1:] in b"02468"]
        consumer.ack(acked)
        for delivery in batch:
            verdict = "ACKED" if delivery in acked else "KEPT"
            print(verdict, delivery.payload.hex(), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
