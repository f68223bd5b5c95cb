#!/usr/bin/env bash
# Installs what the build and the tests need, skipping what is already there: Debian packages
# (Chromium + driver, Firefox ESR and WebKitGTK's WebDriver with a virtual display for the
# other engines' e2e tests, FashionMNIST, the lavapipe Vulkan driver), the wasm32 target,
# wasm-bindgen-cli at exactly Cargo.lock's version, and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

apt_pkgs=(chromium chromium-driver firefox-esr webkit2gtk-driver xvfb xauth dataset-fashion-mnist mesa-vulkan-drivers libvulkan1)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: apt-get install ${missing[*]}"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null
fi

rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "setup: cargo install wasm-bindgen-cli $want (have: ${have:-none})"
  # Not --locked: one of its locked dependencies is missing from the registry mirror here.
  cargo install -q wasm-bindgen-cli --version "$want"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# Python with JAX and Flax (PyPI) for the tests that continue ActLab's models in JAX
# (crate/tests/flax_python.rs), outside the checkout like the Cargo target directory.
venv="${ACTLAB_VENV:-$HOME/.cache/actlab/venv}"
if ! "$venv/bin/python" -c "import jax, flax" 2>/dev/null; then
  echo "setup: Python venv with jax and flax at $venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "jax==${ACTLAB_JAX_VERSION:-0.10.2}" "flax==${ACTLAB_FLAX_VERSION:-0.12.8}"
fi
