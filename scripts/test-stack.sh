# Sourced by scripts/test.sh and scripts/soak.sh: the test stack's own local directory and ports, so
# test runs never use (or leave data in) a developer's running stack. Values already set are kept.
export DSR_LOCAL_DIR="${DSR_LOCAL_DIR:-$root/.local/test}"
export DSR_AZURITE_BLOB_PORT="${DSR_AZURITE_BLOB_PORT:-20000}"
export DSR_AZURITE_QUEUE_PORT="${DSR_AZURITE_QUEUE_PORT:-20001}"
export DSR_AZURITE_TABLE_PORT="${DSR_AZURITE_TABLE_PORT:-20002}"
export DSR_KEYVAULT_PORT="${DSR_KEYVAULT_PORT:-20443}"
export DSR_KEYVAULT_TOKEN_PORT="${DSR_KEYVAULT_TOKEN_PORT:-20080}"
export DSR_CV_EMULATOR_PORT="${DSR_CV_EMULATOR_PORT:-20070}"
export DSR_FUNCTIONS_PORT="${DSR_FUNCTIONS_PORT:-20071}"
export DSR_FUNCTIONS_RPC_PORT="${DSR_FUNCTIONS_RPC_PORT:-20072}"
