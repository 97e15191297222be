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

echo "== services ($DSR_LOCAL_DIR)"; start_test_services  # stops on exit what it started

echo "== tests"
$py -m pytest "$@"
