#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what is needed, lint, type-check, test.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/test_models.py -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
echo "== ruff"; .venv/bin/ruff check core services plugins tests examples scripts bench
echo "== mypy"; scripts/typecheck.sh
# Most tests wait on servers and subprocesses, so two workers halve the wall time on 2 cores;
# --dist loadfile keeps each file (and its module-scoped servers) on one worker.
workers="${JOBQUEUE_TEST_WORKERS:-2}"
echo "== pytest ($workers workers)"
.venv/bin/python -m pytest -n "$workers" --dist loadfile --durations=20 "$@"
