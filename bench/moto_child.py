"""A moto server in its own process: prints its URL, serves until stdin closes.

The Kinesis target runs it apart so that the emulator's CPU is not charged to the bench.
"""

from __future__ import annotations

import sys

from jobqueue_kinesis.testserver import moto_server


def main() -> None:
    with moto_server() as endpoint:
        print(endpoint.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
