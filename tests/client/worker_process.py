"""A worker in its own process, for the tests of SIGTERM handling (signals reach only a main
thread). Usage: worker_process.py URL JOB EVENTS_FILE HANDLER_SLEEP_S SHUTDOWN_TIMEOUT_S

Writes ``start <id> <attempt>`` and ``done <id>`` lines to EVENTS_FILE and, on exit, the
worker's stats as one JSON line on stdout.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from jobqueue.client import Message, Worker


def main() -> int:
    url, job, events_path, sleep_s, shutdown_s = sys.argv[1:6]
    lock = threading.Lock()

    def record(line: str) -> None:
        with lock, Path(events_path).open("a") as events:
            events.write(line + "\n")

    def handler(message: Message) -> None:
        record(f"start {message.id} {message.attempt}")
        time.sleep(float(sleep_s))
        record(f"done {message.id}")

    worker = Worker(
        job,
        handler,
        dispatcher_url=url,
        concurrency=4,
        poll_wait_ms=500,
        shutdown_timeout_s=float(shutdown_s),
    )
    worker.run()
    print(json.dumps(worker.stats.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
