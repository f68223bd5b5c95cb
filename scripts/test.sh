#!/usr/bin/env bash
# Every test: formatting and lints, native Rust tests (Flex CPU backend, real FashionMNIST),
# the wasm tests in headless Chromium on WebGPU, the wasm package build and the TypeScript check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings (native)"
cargo clippy -q -p actlab --all-targets -- -D warnings

step "native tests"
cargo test -q -p actlab -- --nocapture

step "wasm tests in headless Chromium (WebGPU on SwiftShader without a GPU)"
(
  cd crate
  export CHROMEDRIVER=/usr/bin/chromedriver
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
  export WASM_BINDGEN_TEST_TIMEOUT=600
  # No -q: cargo would pass --quiet on to wasm-bindgen-test-runner, which rejects it.
  cargo test --target wasm32-unknown-unknown --profile wasm-release --test wasm -- --nocapture
)

step "wasm package build"
node scripts/build-wasm.mjs

step "TypeScript"
npx tsc --noEmit
npx vite build --logLevel warn
echo "all test stages passed"
