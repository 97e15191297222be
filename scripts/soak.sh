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
$py -m devstack start azurite keyvault
eval "$($py -m devstack env)"

$py -m tests.reliability.soak "$@"
