#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what is needed, lint, type-check, test.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/test_models.py -x).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
echo "== ruff"; .venv/bin/ruff check core services plugins tests examples scripts bench
echo "== mypy"; scripts/typecheck.sh
echo "== pytest"; .venv/bin/python -m pytest --durations=20 "$@"
