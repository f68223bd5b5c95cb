#!/usr/bin/env bash
# The long soak (the test suite runs a short one): STEPS train steps (default 20,000) natively,
# with the process's resident memory sampled, and in headless Chromium through the npm package,
# with the wasm memory, the JS heap and the live GPU buffers sampled. Prints each curve's start
# and end; fails if one grows after warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
steps="${STEPS:-20000}"
ACTLAB_SOAK_STEPS="$steps" cargo test -q -p actlab --test soak -- --nocapture
node scripts/build-wasm.mjs
SOAK_STEPS="$steps" npx vitest run --project e2e tests/package.e2e.ts -t 'memory flat'
