#!/usr/bin/env bash
# The one command that checks everything: installs what is missing, runs format, lint and type checks,
# starts the local stack the tests need (Azurite, Key Vault stand-in), and runs the whole test suite.
# Extra arguments go to pytest, e.g. `./scripts/test.sh tests/app -k contract`.
#
# The tests use a stack of their own, never the developer's: state under .local/test (DSR_LOCAL_DIR) and
# the test port set in scripts/test-stack.sh. DSR_LOCAL_DIR and the DSR_* port variables, when set, are honoured.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

./scripts/setup.sh
py=.venv/bin/python

source scripts/test-stack.sh

echo "== format"; .venv/bin/ruff format --check --quiet .
echo "== lint";   .venv/bin/ruff check --quiet .
echo "== types";  .venv/bin/mypy

# Services this run starts are stopped again when it ends; ones already running in DSR_LOCAL_DIR are kept.
already="$($py -m devstack status 2>/dev/null | awk '$2 == "running" {printf "%s ", $1}' || true)"
stop_started() {
  local started=()
  for service in azurite keyvault; do
    [[ " $already " == *" $service "* ]] || started+=("$service")
  done
  [ ${#started[@]} -eq 0 ] || $py -m devstack stop "${started[@]}" >/dev/null || true
}
trap stop_started EXIT
echo "== services ($DSR_LOCAL_DIR)"; $py -m devstack start azurite keyvault
eval "$($py -m devstack env)"

echo "== tests"
$py -m pytest "$@"
