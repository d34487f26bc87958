#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine: system servers
# (redis-server, PostgreSQL binaries, docker-compose for the compose-file check) and a
# virtualenv in .venv with jobqueue, its plugins and the test tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
if ((${#need_apt[@]})); then
  echo "bootstrap: installing ${need_apt[*]} with apt-get" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip 2>&1 | grep -v '^WARNING: Location' || true
plugins=()
for dir in plugins/*/; do
  [ -f "$dir/pyproject.toml" ] && plugins+=(-e "${dir%/}[test]")
done
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]" "${plugins[@]}" 2>&1 \
  | grep -v '^WARNING: Location' || true
.venv/bin/python -c "import jobqueue" # fail loudly if the install did not work
