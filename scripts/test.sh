#!/usr/bin/env bash
# Every test: formatting and lints, native Rust tests (Flex CPU backend, real FashionMNIST),
# the wasm tests in headless Chromium on WebGPU, the wasm package build, the TypeScript check
# and unit tests, and the end-to-end tests of the page and the npm package.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# Each stage's time, printed at the end (also when a stage fails): where CI's minutes go.
stages=()
current=""
started=$SECONDS
end_stage() {
  if [ -n "$current" ]; then stages+=("$(printf '%6ds  %s' $((SECONDS - started)) "$current")"); fi
  current=""
}
step() {
  end_stage
  current="$*"
  started=$SECONDS
  printf '\n== %s\n' "$*"
}
summary() {
  end_stage
  printf '\n== stage times\n'
  printf '%s\n' "${stages[@]}"
  printf '%6ds  total\n' "$SECONDS"
}
trap summary EXIT
step "setup (what is missing: apt packages, Rust target, wasm-bindgen-cli, npm ci)"
bash scripts/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

# Lints ride along the builds the tests need anyway: clippy-driver as the workspace's rustc
# wrapper (what `cargo clippy` sets up for its check build) compiles our crate with clippy's
# lints, -D warnings, so the dependencies are built once, for the tests, not a second time in
# check mode. Natively and for wasm32 (the bindings exist only there).
with_lints() {
  RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" "$@"
}

step "native tests (lib, tests and examples built with clippy -D warnings)"
with_lints cargo test -q -p actlab -- --nocapture

step "wasm tests in headless Chromium (WebGPU on SwiftShader without a GPU), with clippy"
(
  cd crate
  export CHROMEDRIVER=/usr/bin/chromedriver
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
  export WASM_BINDGEN_TEST_TIMEOUT=600
  # No -q: cargo would pass --quiet on to wasm-bindgen-test-runner, which rejects it.
  with_lints cargo test --target wasm32-unknown-unknown --profile wasm-release --no-default-features --features gpu --test wasm -- --nocapture
)

step "wasm package build (the same lint-checked build of the crate)"
with_lints node scripts/build-wasm.mjs

step "TypeScript: types and unit tests"
npx tsc --noEmit
npx vitest run --project unit

step "page build"
npx vite build --logLevel warn

step "end-to-end: the page in headless Chromium, and in Firefox ESR and WebKitGTK (tests/engines.e2e.ts), and the npm package as a user installs it"
npx vitest run --project e2e
echo "all test stages passed"
