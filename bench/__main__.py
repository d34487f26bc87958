"""``python -m bench``: the benchmark command line."""

from __future__ import annotations

from bench.cli import main

main()
