#!/usr/bin/env bash
# Run `jobqueue dev` (controller + dispatcher + embedded broker) after a minimal install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/jobqueue --version >/dev/null 2>&1 || \
  .venv/bin/python -m pip install -q --disable-pip-version-check -e . 2>&1 | grep -v '^WARNING: Location' || true
exec .venv/bin/jobqueue dev "$@"
