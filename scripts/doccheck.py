#!/usr/bin/env python3
"""Run every command of the docs, or check it where it cannot run.

    .venv/bin/python scripts/doccheck.py                 # README.md, docs/, the template's README
    .venv/bin/python scripts/doccheck.py docs/operations.md -v   # one page, with output

Shell blocks marked ``<!-- doccheck: run -->`` run against a fresh ``jobqueue dev`` on free
ports; ``<!-- doccheck: static REASON -->`` blocks (docker, kubectl, PostgreSQL...) are checked
without running. See scripts/doctools/blocks.py for the markers. Exit status 1 on a problem.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.doctools.runner import checker, default_pages  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("pages", nargs="*", type=Path, help="pages to check (default: all)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each block's output")
    args = parser.parse_args(argv)
    pages = [p.resolve() for p in args.pages] or default_pages(REPO)
    counts: dict[str, int] = {}
    failures = 0
    started = time.monotonic()
    with checker(REPO) as check:
        for page in pages:
            for outcome in check.check_page(page):
                counts[outcome.action] = counts.get(outcome.action, 0) + 1
                if outcome.action == "skipped":
                    continue
                status = "FAIL" if outcome.problems else "ok"
                mode = outcome.block.mode or "inferred"
                print(f"{status:4} {outcome.action:7} {outcome.block.where(REPO)} ({mode})")
                for problem in outcome.problems:
                    print(f"       {problem}")
                if outcome.output and (outcome.problems or args.verbose):
                    print("       | " + outcome.output.rstrip().replace("\n", "\n       | "))
                failures += bool(outcome.problems)
    summary = ", ".join(f"{action}: {n}" for action, n in sorted(counts.items()))
    print(f"doccheck: {summary}; {failures} failed in {time.monotonic() - started:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
