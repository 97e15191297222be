#!/usr/bin/env bash
# The reliability soak (issue 8): starts the local stack the way scripts/test.sh does, runs
# `python -m tests.reliability.soak` (races, kill -9 and restart, injected faults, the bad-input
# catalogue) and writes its figures into docs/reliability.md. Extra arguments go to the soak,
# e.g. `./scripts/soak.sh --rounds 2 --no-write`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

./scripts/setup.sh
py=.venv/bin/python
source scripts/test-stack.sh  # the test stack's own directory and ports, never a developer's stack

start_test_services  # stops on exit what it started

$py -m tests.reliability.soak "$@"
