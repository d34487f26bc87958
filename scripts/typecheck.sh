#!/usr/bin/env bash
# mypy over the `jobqueue` package as it is installed: core/jobqueue with services/controller
# and services/dispatcher mounted as jobqueue.controller and jobqueue.dispatcher (a symlink
# tree, because mypy cannot follow setuptools' package-dir mapping), then each plugin package.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck
rm -rf "$tree" && mkdir -p "$tree/jobqueue"
for entry in core/jobqueue/*; do ln -s "$PWD/$entry" "$tree/jobqueue/$(basename "$entry")"; done
ln -s "$PWD/services/controller" "$tree/jobqueue/controller"
ln -s "$PWD/services/dispatcher" "$tree/jobqueue/dispatcher"
(cd "$tree" && ../../.venv/bin/mypy --config-file ../../pyproject.toml -p jobqueue "$@")
for init in plugins/*/jobqueue_*/__init__.py; do
  MYPYPATH="$PWD/$tree" .venv/bin/mypy --config-file pyproject.toml "$(dirname "$init")"
done
MYPYPATH="$PWD/$tree:$PWD" .venv/bin/mypy --config-file pyproject.toml --explicit-package-bases \
  scripts/doctools scripts/docgen.py scripts/doccheck.py tests/docs tests/e2e tests/reliability
(cd examples/plugin-template && MYPYPATH="src:../../$tree" ../../.venv/bin/mypy --config-file pyproject.toml src tests)
