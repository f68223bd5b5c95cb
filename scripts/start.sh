#!/usr/bin/env bash
# Runs the app: installs what is missing, builds the wasm package, serves the page and
# FashionMNIST on http://127.0.0.1:5173/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
node scripts/build-wasm.mjs
exec npx vite --port "${PORT:-5173}" "$@"
