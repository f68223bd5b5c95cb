"""The tutorial's own speed: its MLP's train step under `jax.jit` (XLA), on whatever device JAX
has (a GPU where there is one). Prints ms per step for one model and for the six activations
stacked with `jax.vmap` (per model-step), the reference for ActLab's compiled step
(docs/benchmark.md). Numbers only.

    python3 bench/jax_reference.py [steps]      (FASHION_MNIST_DIR: the four .gz files)
"""
import gzip
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
DIMS = [784, 512, 256, 256, 128, 10]
ACTS = [jax.nn.sigmoid, jnp.tanh, jax.nn.relu, lambda x: jax.nn.leaky_relu(x, 0.01), jax.nn.elu, jax.nn.swish]


def load(directory):
    with gzip.open(os.path.join(directory, "train-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(directory, "train-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return x[:50000], y[:50000].astype(np.int32)


def init(key):
    params = []
    for i, (din, dout) in enumerate(zip(DIMS[:-1], DIMS[1:])):
        kw, kb = jax.random.split(jax.random.fold_in(key, i))
        bound = 1 / np.sqrt(din)
        params.append((jax.random.uniform(kw, (din, dout), minval=-bound, maxval=bound),
                       jax.random.uniform(kb, (dout,), minval=-bound, maxval=bound)))
    return params


def loss_fn(params, x, y, act):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = jax.lax.switch(act, ACTS, h)
    logp = jax.nn.log_softmax(h)
    loss = -jnp.mean(jnp.take_along_axis(logp, y[:, None], 1))
    return loss, jnp.mean(jnp.argmax(h, 1) == y)


def step(params, mom, x_all, y_all, idx, act):
    x = (x_all[idx].astype(jnp.float32) / 255 - 0.5) / 0.5
    y = y_all[idx]
    (loss, acc), g = jax.value_and_grad(loss_fn, has_aux=True)(params, x, y, act)
    mom = jax.tree_util.tree_map(lambda g, t: g + 0.9 * t, g, mom)
    params = jax.tree_util.tree_map(lambda p, t: p - 0.01 * t, params, mom)
    return params, mom, loss, acc


def bench(name, fn, params, mom, x_all, y_all, models):
    order = np.random.default_rng(0).permutation(len(y_all))
    batches = [jnp.asarray(order[i * 256:(i + 1) * 256]) for i in range(len(order) // 256)]
    t0 = time.perf_counter()
    params, mom, loss, _ = fn(params, mom, x_all, y_all, batches[0])
    loss.block_until_ready()
    first = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    for i in range(1, STEPS + 1):
        params, mom, loss, _ = fn(params, mom, x_all, y_all, batches[i % len(batches)])
    host = (time.perf_counter() - t0) * 1e3
    loss.block_until_ready()
    wall = (time.perf_counter() - t0) * 1e3
    per = STEPS * models
    print(f"{name:<34} first step {first:8.1f} ms   {wall / per:7.3f} ms/model-step   "
          f"host {host / per:6.3f} ms/model-step   final loss {np.asarray(loss).ravel()[:6]}")


def main():
    x, y = load(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    x_all, y_all = jnp.asarray(x), jnp.asarray(y)
    print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind}; MLP {DIMS}, batch 256, SGD momentum")
    params = init(jax.random.key(0))
    mom = jax.tree_util.tree_map(jnp.zeros_like, params)
    stack = lambda t: jax.tree_util.tree_map(lambda a: jnp.stack([a] * 6), t)
    params6, mom6 = stack(params), stack(mom)  # before the first run donates params and mom
    one = jax.jit(lambda p, m, xa, ya, idx: step(p, m, xa, ya, idx, 2), donate_argnums=(0, 1))
    bench("jax.jit, one model (relu)", one, params, mom, x_all, y_all, 1)
    six = jax.jit(jax.vmap(lambda p, m, xa, ya, idx, a: step(p, m, xa, ya, idx, a),
                           in_axes=(0, 0, None, None, None, 0)), donate_argnums=(0, 1))
    acts = jnp.arange(6)
    bench("jax.jit(vmap), six activations", lambda p, m, xa, ya, idx: six(p, m, xa, ya, idx, acts),
          params6, mom6, x_all, y_all, 6)


if __name__ == "__main__":
    main()
