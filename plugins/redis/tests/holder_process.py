"""A consumer process for the crash tests: polls records, never acks them, waits to be killed.

Usage: ``python holder_process.py URL STREAM TOPIC GROUP COUNT INSTANCE_ID``. Prints
``START <unix time>`` before its first poll, one line per record held (payload in hex), then
``HOLDING`` and sleeps until killed.
"""

from __future__ import annotations

import sys
import time

from jobqueue.contract import BrokerContext
from jobqueue_redis import RedisBroker


def main(url: str, stream: str, topic: str, group: str, count: str, instance_id: str) -> None:
    config = RedisBroker.parse_config({"url": url, "stream": stream})
    broker = RedisBroker(config, BrokerContext(instance_id=instance_id, timeout_s=5.0))
    consumer = broker.consumer(topic, group, lease_ms=60_000)
    wanted = int(count)
    print("START", time.time(), flush=True)
    held: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(held) < wanted and time.monotonic() < deadline:
        held.extend(d.payload for d in consumer.poll(wanted - len(held), 1.0))
    for payload in held:
        print(payload.hex(), flush=True)
    print("HOLDING", flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    main(*sys.argv[1:])
