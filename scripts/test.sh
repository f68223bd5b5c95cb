#!/usr/bin/env bash
# Every test: formatting and lints, native Rust tests (Flex CPU backend, real FashionMNIST),
# the wasm tests in headless Chromium on WebGPU, the wasm package build, the TypeScript check
# and unit tests, and the end-to-end tests of the page and the npm package.
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

step "TypeScript: types and unit tests"
npx tsc --noEmit
npx vitest run --project unit

step "page build"
npx vite build --logLevel warn

step "end-to-end in headless Chromium (the page, and the npm package as a user installs it)"
npx vitest run --project e2e
echo "all test stages passed"
