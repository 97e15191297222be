#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine, idempotently:
#   .venv/                      Python 3.11 virtualenv with requirements-dev.txt and the project itself
#                               (editable), which installs the operator CLI as .venv/bin/cvdsr
#   devstack/node/node_modules  Azurite, pinned in devstack/node/package-lock.json
#   chromium, chromium-driver   Debian packages for the browser tests (apt-get, only when missing)
#   mariadb-server              Debian package: Azurite's SQL metadata store for benchmarks (same)
#   .local/checkov-venv/        checkov (infra scanner), pinned in requirements-checkov.txt
# Re-running is cheap: each step is skipped while its inputs are unchanged.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

python_bin="${PYTHON:-python3}"
stamp_dir=".local/stamps"
mkdir -p "$stamp_dir"

fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: node and npm are required (Azurite runs on Node.js)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python_bin" -m venv .venv
fi
py_fp="$(fingerprint requirements.txt requirements-dev.txt pyproject.toml)"
if [ "$(cat "$stamp_dir/python" 2>/dev/null)" != "$py_fp" ] || [ ! -x .venv/bin/cvdsr ]; then
  echo "setup: installing Python packages"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  # The project itself, editable, for the `cvdsr` console script (its dependencies came just above).
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  echo "$py_fp" > "$stamp_dir/python"
fi

# checkov pins dependencies that clash with the app's, so it gets a virtualenv of its own.
checkov_venv=.local/checkov-venv
checkov_fp="$(fingerprint requirements-checkov.txt)"
if [ ! -x "$checkov_venv/bin/checkov" ] || [ "$(cat "$stamp_dir/checkov" 2>/dev/null)" != "$checkov_fp" ]; then
  echo "setup: installing checkov"
  rm -rf "$checkov_venv"
  "$python_bin" -m venv "$checkov_venv"
  "$checkov_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
  echo "$checkov_fp" > "$stamp_dir/checkov"
fi

node_fp="$(fingerprint devstack/node/package.json devstack/node/package-lock.json)"
if [ ! -d devstack/node/node_modules ] || [ "$(cat "$stamp_dir/node" 2>/dev/null)" != "$node_fp" ]; then
  echo "setup: installing Azurite (npm ci)"
  (cd devstack/node && npm ci --no-audit --no-fund --loglevel=error)
  echo "$node_fp" > "$stamp_dir/node"
fi
# Debian packages: Chromium and its driver for the browser tests (no browser download at run time);
# MariaDB for Azurite's SQL metadata store, which the benchmarks at scale use (DSR_AZURITE_SQL=1).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
[ -x /usr/sbin/mariadbd ] && command -v mariadb-install-db >/dev/null || missing+=(mariadb-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: Debian packages ${missing[*]} are required; install them with apt-get" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: ready"
