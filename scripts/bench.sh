#!/usr/bin/env bash
# `npm run bench`: builds what is missing, then runs ActLab against TensorFlow.js in headless
# Chromium (bench/run.ts; arguments pass through, e.g. `npm run bench -- --rounds 5`). The
# native numbers: `cargo run --release -p actlab --example bench` (docs/benchmark.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
node scripts/build-wasm.mjs
exec npx tsx bench/run.ts "$@"
