# Sourced by the other scripts: one shared Cargo target directory (outside the checkout, so a
# fresh clone on the same machine reuses what was built), and the tool paths.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/actlab/target}"
export PATH="$HOME/.cargo/bin:$PATH"
export FASHION_MNIST_DIR="${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
