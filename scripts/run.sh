#!/usr/bin/env bash
# Sets everything up and runs the app locally with embedded defaults: Azurite, the Key Vault stand-in,
# the Custom Vision emulator with a seeded demo account, and the Functions host on http://127.0.0.1:7071.
# Every service runs in the background under devstack (pid files in .local/run/, logs in .local/logs/,
# state in .local/data/); `./scripts/run.sh stop` stops them all, `./scripts/run.sh status` shows them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

./scripts/setup.sh >/dev/null
py=.venv/bin/python

case "${1:-}" in
  stop) exec $py -m devstack stop ;;
  status) exec $py -m devstack status ;;
  "") ;;
  *) echo "usage: $0 [stop|status]" >&2; exit 2 ;;
esac

eval "$($py -m devstack env)"
if $py -m devstack status 2>/dev/null | awk '$1 == "functions" && $2 == "running" {found=1} END {exit !found}'; then
  cat <<TXT
The local stack is already running: the app answers on $DEVSTACK_FUNCTIONS_URL.
  ./scripts/run.sh status   # every service, with its pid
  ./scripts/run.sh stop     # stop them all (then run again for a fresh start)
TXT
  exit 0
fi

$py -m devstack start azurite keyvault customvision
$py -m devstack seed-demo >/dev/null
$py -m devstack start functions
cat <<TXT

Local stack is up: the app answers on $DEVSTACK_FUNCTIONS_URL (host log: $DSR_LOCAL_DIR/logs/functions.log).
Try it:
  eval "\$(.venv/bin/python -m devstack env)"     # URL, function key and the demo account, for cvdsr
  .venv/bin/cvdsr submit export --demo --watch    # export the demo account, with progress
  .venv/bin/cvdsr download <requestId> --to .local/exports   # then open .local/exports/<requestId>/export/index.html
  .venv/bin/cvdsr submit delete --demo --dry-run --watch   # what a delete would remove (then without --dry-run)
Stop everything with: ./scripts/run.sh stop

TXT
