"""Echo consumer: print each message of a job, then ack it with probability --success.

Every message is acked with probability ``--success`` and nacked otherwise; a nacked message
comes back from the job's retry queues after their backoffs, and after its last retry it goes
to the dead-letter queue. Run against `jobqueue dev` (see examples/echo_job.yaml):

    python examples/echo_consumer.py --success 0.7

Stop it with Ctrl-C or SIGTERM (it finishes what it holds), or let ``--exit-when-idle``
stop it. On exit it prints its counts as one JSON object on stdout. ``--log-file`` writes
every decision as a JSON line: id, attempt, decision, received_at, decided_at.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from jobqueue.client import (
    DEFAULT_DISPATCHER_URL,
    DLQMessage,
    JobQueueError,
    Message,
    Nack,
    Worker,
    dead_letter_message,
    message_data,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--dispatcher",
        default=os.environ.get("JOBQUEUE_DISPATCHER", DEFAULT_DISPATCHER_URL),
        help="dispatcher URL [env JOBQUEUE_DISPATCHER] (default: %(default)s)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("JOBQUEUE_DISPATCHER_TOKEN"),
        help="dispatcher bearer token [env JOBQUEUE_DISPATCHER_TOKEN]",
    )
    parser.add_argument("--job", default="echo", help="consumer job (default: %(default)s)")
    parser.add_argument(
        "--success",
        type=float,
        default=0.7,
        help="probability that a message is acked, 0..1; else nacked (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, help="seed the random choices (reproducible runs)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="handlers at once (default: %(default)s)"
    )
    parser.add_argument(
        "--work-ms", type=int, default=0, help="simulated work per message (default: 0)"
    )
    parser.add_argument(
        "--dlq", action="store_true", help="also read the dead-letter queue: print and delete"
    )
    parser.add_argument(
        "--exit-when-idle",
        type=float,
        metavar="SECONDS",
        help="stop after this long without a message",
    )
    parser.add_argument("--log-file", type=Path, help="append each decision here as JSON")
    parser.add_argument("--quiet", action="store_true", help="do not print each message")
    parser.add_argument(
        "--lease-interval",
        type=float,
        default=5.0,
        help="seconds between lease extensions of running handlers (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.success <= 1.0:
        parser.error("--success must be within 0..1")
    if args.concurrency < 1:
        parser.error("--concurrency must be >= 1")
    return args


class Echo:
    """The handlers, their counts and the decision log."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.success = args.success
        self.work_s = args.work_ms / 1000
        self.quiet = args.quiet
        self.random = random.Random(args.seed)
        self.lock = threading.Lock()
        self.log: IO[str] | None = args.log_file.open("a") if args.log_file else None
        self.counts = {"acked": 0, "nacked": 0, "dead_letters": 0}
        self.last_activity = time.monotonic()

    def handle(self, message: Message) -> None:
        received_at = time.time()
        self.last_activity = time.monotonic()
        if self.work_s:
            time.sleep(self.work_s)
        with self.lock:
            ack = self.random.random() < self.success
            decision = "ack" if ack else "nack"
            self.counts["acked" if ack else "nacked"] += 1
            self._record(message, decision, received_at)
        if not self.quiet:
            data = json.dumps(message_data(message))
            print(f"echo {message.id} attempt={message.attempt} {data} -> {decision}", flush=True)
        self.last_activity = time.monotonic()
        if not ack:
            raise Nack("echo: unlucky draw")

    def handle_dead_letter(self, letter: DLQMessage) -> None:
        self.last_activity = time.monotonic()
        original = dead_letter_message(letter)
        with self.lock:
            self.counts["dead_letters"] += 1
        if not self.quiet:
            shown = json.dumps(message_data(original)) if original else repr(letter.raw_job[:80])
            print(f"dead letter ({letter.reason}): {shown}", flush=True)

    def _record(self, message: Message, decision: str, received_at: float) -> None:
        if self.log is None:
            return
        entry: dict[str, Any] = {
            "id": message.id,
            "external_id": message.external_id,
            "attempt": message.attempt,
            "decision": decision,
            "received_at": received_at,
            "decided_at": time.time(),
        }
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


def stop_when_idle(worker: Worker, echo: Echo, idle_s: float) -> None:
    """A watchdog thread: stops the worker after ``idle_s`` without a message."""

    def watch() -> None:
        while True:
            time.sleep(min(idle_s, 0.2))
            if time.monotonic() - echo.last_activity >= idle_s:
                worker.stop()
                return

    threading.Thread(target=watch, name="idle-watchdog", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    echo = Echo(args)
    worker = Worker(
        args.job,
        echo.handle,
        dlq_handler=echo.handle_dead_letter if args.dlq else None,
        concurrency=args.concurrency,
        dispatcher_url=args.dispatcher,
        token=args.token,
        lease_interval_s=args.lease_interval,
        lease_extension_ms=max(30_000, int(args.lease_interval * 3000)),
    )
    if args.exit_when_idle is not None:
        stop_when_idle(worker, echo, args.exit_when_idle)
    code = 0
    try:
        worker.run()
    except JobQueueError as exc:
        print(f"echo_consumer: {exc}", file=sys.stderr)
        code = 1
    finally:
        echo.close()
    print(json.dumps({**echo.counts, "worker": worker.stats.as_dict()}), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
