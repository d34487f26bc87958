#!/usr/bin/env python3
"""Write the documentation pages generated from the code, or check that they are current.

    .venv/bin/python scripts/docgen.py           # rewrite docs/api.md and docs/configuration.md
    .venv/bin/python scripts/docgen.py --check   # exit 1 if a committed page is stale

docs/api.md comes from the services' /openapi.json, docs/configuration.md from the click
commands; tests/docs/test_generated_docs.py runs the check.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.doctools import apiref, configref  # noqa: E402

PAGES: dict[str, Callable[[], str]] = {
    "docs/api.md": lambda: apiref.render(apiref.fetch_documents()),
    "docs/configuration.md": configref.render,
}


def stale_pages() -> dict[str, str]:
    """``{path: unified diff}`` of each page whose committed text differs from a fresh one."""
    stale = {}
    for relative, make in PAGES.items():
        path = REPO / relative
        current = path.read_text() if path.exists() else ""
        fresh = make()
        if current != fresh:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                fresh.splitlines(keepends=True),
                f"{relative} (committed)",
                f"{relative} (generated)",
            )
            stale[relative] = "".join(diff)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report stale pages")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages()
        for relative, diff in stale.items():
            print(f"{relative} is stale; run `.venv/bin/python scripts/docgen.py`\n{diff}")
        return 1 if stale else 0
    for relative, make in PAGES.items():
        (REPO / relative).write_text(make())
        print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
