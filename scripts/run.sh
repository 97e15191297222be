#!/usr/bin/env bash
# Sets everything up and runs the app locally with embedded defaults: Azurite, the Key Vault stand-in,
# the Custom Vision emulator with a seeded demo account, and the Functions host on http://127.0.0.1:7071.
# Ctrl-C stops the host; `./scripts/run.sh stop` stops every service.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

./scripts/setup.sh
py=.venv/bin/python

if [ "${1:-}" = "stop" ]; then
  exec $py -m devstack stop
fi

$py -m devstack start azurite keyvault customvision
$py -m devstack seed-demo
eval "$($py -m devstack env)"
cat <<'TXT'

Local stack is up. Try it (in another terminal):
  .venv/bin/python scripts/demo.py export           # export the demo account; prints where index.html is
  .venv/bin/python scripts/demo.py delete --dry-run # what a delete would remove (then without --dry-run)
Stop everything with: ./scripts/run.sh stop

TXT
exec $py -m devhost start --app-dir "$root" --port "${DSR_FUNCTIONS_PORT:-7071}"
