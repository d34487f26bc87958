"""Echo producer: publish N numbered messages to a job through a dispatcher.

Run `jobqueue dev`, create and start the echo job (see examples/echo_job.yaml), then:

    python examples/echo_producer.py --count 100

Prints one summary line on stderr; ``--ids-out FILE`` writes the published ids, one per line.
Exits 1 with the dispatcher's error if a batch cannot be published after ``--retries``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from jobqueue.client import (
    DEFAULT_DISPATCHER_URL,
    DispatcherClient,
    JobQueueError,
    Message,
    is_retryable,
    new_message,
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
    parser.add_argument("--job", default="echo", help="job to publish to (default: %(default)s)")
    parser.add_argument("--count", type=int, default=10, help="messages (default: %(default)s)")
    parser.add_argument(
        "--batch",
        type=int,
        default=100,
        help="messages per request, 1..1000 (default: %(default)s)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=5,
        help="retries of a batch while the dispatcher is unavailable (default: %(default)s)",
    )
    parser.add_argument("--ids-out", type=Path, help="write the published ids here, one a line")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be >= 0")
    if not 1 <= args.batch <= 1000:
        parser.error("--batch must be within 1..1000")
    return args


def echo_message(n: int) -> Message:
    return new_message(
        {"n": n, "text": f"hello #{n}", "sent_at": time.time()},
        external_id=f"echo-{n}",
        name="echo",
    )


def publish_batch(
    client: DispatcherClient, job: str, batch: list[Message], retries: int
) -> list[int]:
    """Publish one batch, retrying while the dispatcher is unavailable (a retry after a lost
    reply can publish the batch twice: at-least-once)."""
    delay = 0.2
    for attempt in range(retries + 1):
        try:
            return client.publish(job, batch)
        except JobQueueError as exc:
            if not is_retryable(exc) or attempt == retries:
                raise
            print(f"publish failed ({exc}); retrying in {delay:.1f}s", file=sys.stderr)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    ids: list[int] = []
    with DispatcherClient(args.dispatcher, token=args.token) as client:
        try:
            client.subscribe(args.job)
            for start in range(0, args.count, args.batch):
                batch = [echo_message(n) for n in range(start, min(start + args.batch, args.count))]
                ids += publish_batch(client, args.job, batch, args.retries)
        except JobQueueError as exc:
            print(f"echo_producer: {exc} (published {len(ids)} of {args.count})", file=sys.stderr)
            return 1
        finally:
            if args.ids_out is not None:
                args.ids_out.write_text("".join(f"{i}\n" for i in ids))
    elapsed = time.perf_counter() - started
    rate = len(ids) / elapsed if elapsed > 0 else 0.0
    print(
        f"published {len(ids)} message(s) to job {args.job!r} in {elapsed:.2f}s ({rate:.0f}/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
