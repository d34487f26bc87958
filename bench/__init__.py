"""Benchmarks: the dispatcher measured against the broker's own client, in the same run.

Run from the repository root: ``python -m bench --broker redis --json out.json`` (see
``docs/performance.md``). Nothing here is imported by the services.
"""
