# Sourced by scripts/test.sh and scripts/soak.sh: the test stack's own local directory and ports, so
# test runs never use (or leave data in) a developer's running stack (values already set are kept),
# and start_test_services, which both call.
export DSR_LOCAL_DIR="${DSR_LOCAL_DIR:-$root/.local/test}"
# Azurite keeps the test stack's data in memory: a test run starts empty and does not slow down
# as earlier runs' blobs pile up on disk.
export DSR_AZURITE_IN_MEMORY="${DSR_AZURITE_IN_MEMORY:-1}"
export DSR_AZURITE_BLOB_PORT="${DSR_AZURITE_BLOB_PORT:-20000}"
export DSR_AZURITE_QUEUE_PORT="${DSR_AZURITE_QUEUE_PORT:-20001}"
export DSR_AZURITE_TABLE_PORT="${DSR_AZURITE_TABLE_PORT:-20002}"
export DSR_AZURITE_SQL_PORT="${DSR_AZURITE_SQL_PORT:-20003}"
export DSR_KEYVAULT_PORT="${DSR_KEYVAULT_PORT:-20443}"
export DSR_KEYVAULT_TOKEN_PORT="${DSR_KEYVAULT_TOKEN_PORT:-20080}"
export DSR_CV_EMULATOR_PORT="${DSR_CV_EMULATOR_PORT:-20070}"
export DSR_FUNCTIONS_PORT="${DSR_FUNCTIONS_PORT:-20071}"
export DSR_FUNCTIONS_RPC_PORT="${DSR_FUNCTIONS_RPC_PORT:-20072}"

# start_test_services: start Azurite and the Key Vault stand-in in DSR_LOCAL_DIR and export their
# settings. Services this run starts are stopped again when the script exits; ones already running
# there are kept. Needs $py (the venv's python).
start_test_services() {
  _already_running="$($py -m devstack status 2>/dev/null | awk '$2 == "running" {printf "%s ", $1}' || true)"
  trap _stop_started_services EXIT
  $py -m devstack start azurite keyvault
  eval "$($py -m devstack env)"
}

_stop_started_services() {
  local started=()
  for service in azurite keyvault; do
    [[ " $_already_running " == *" $service "* ]] || started+=("$service")
  done
  [ ${#started[@]} -eq 0 ] || $py -m devstack stop "${started[@]}" >/dev/null || true
}
