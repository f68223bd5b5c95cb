"""Load what ActLab saves into Flax: an exported model (`*.msgpack`, "Export best model for
Flax") or a checkpoint (`*.actlab`, "Save checkpoint"; format in docs/checkpoints.md). A
checkpoint records its activation's formula and parameters, so the same function is rebuilt
here in JAX, also for formulas of your own.

    pip install jax flax
    python examples/flax/load_actlab.py actlab-relu-params.msgpack [relu] [512,256,256,128]
    python examples/flax/load_actlab.py actlab-mine-params.msgpack "x * sigmoid(b * x)" 512,256 b=1.5
    python examples/flax/load_actlab.py actlab-relu-seed42-epoch5.actlab
    python examples/flax/load_actlab.py run.actlab --inputs x.f32 --logits out.f32

Prints the parameter shapes and the predicted classes of two blank images. `--inputs F` reads
float32 images (little-endian, 784 per row, already normalised) and `--logits G` writes the
model's float32 logits for them.
"""
import json
import re
import sys
import zlib

import jax
import jax.numpy as jnp
import jax.scipy.special
import flax.linen as nn
import numpy as np
from flax import serialization

# ActLab's formula language (crate/src/activation/grammar.rs) in JAX: the same functions, with
# JAX's autodiff giving the same derivative (`where` differentiates the branch it selects).
FUNCTIONS = {
    "exp": "jnp.exp", "expm1": "jnp.expm1", "log": "jnp.log", "log1p": "jnp.log1p", "sqrt": "jnp.sqrt",
    "abs": "jnp.abs", "sin": "jnp.sin", "cos": "jnp.cos", "tanh": "jnp.tanh", "sigmoid": "jax.nn.sigmoid",
    "softplus": "jax.nn.softplus", "erf": "jax.scipy.special.erf", "min": "jnp.minimum", "max": "jnp.maximum",
    "where": "jnp.where", "pi": "jnp.pi", "e": "jnp.e", "x": "x",
}
TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_]\w*)|(<=|>=|[-+*/^(),<>]))")

# The built-ins by name, as in ActLab's table (for files that name one without its formula).
BUILTINS = {
    "sigmoid": ("sigmoid(x)", {}), "tanh": ("tanh(x)", {}), "relu": ("where(x > 0, x, 0)", {}),
    "leaky_relu": ("where(x > 0, x, alpha * x)", {"alpha": 0.1}),
    "elu": ("where(x > 0, x, alpha * expm1(x))", {"alpha": 1.0}),
    "swish": ("x * sigmoid(beta * x)", {"beta": 1.0}),
}


def activation(formula: str, params: dict):
    """The formula as a JAX function of x: only the language's tokens are accepted."""
    out, at = [], 0
    while at < len(formula.rstrip()):
        m = TOKEN.match(formula, at)
        if not m:
            raise ValueError(f"column {at + 1}: not a token of the formula language: {formula[at:]!r}")
        number, name, op = m.groups()
        if name is not None:
            if name in FUNCTIONS:
                out.append(FUNCTIONS[name])
            elif name in params:
                out.append(f"params[{name!r}]")
            else:
                raise ValueError(f"column {m.start(2) + 1}: unknown name {name!r}")
        else:
            out.append(number if number is not None else ("**" if op == "^" else op))
        at = m.end()
    src = " ".join(out)
    scope = {"jnp": jnp, "jax": jax, "params": {k: float(v) for k, v in params.items()}}
    return lambda x: eval(src, {"__builtins__": {}}, {**scope, "x": x})  # noqa: S307 (tokens checked above)


class MLP(nn.Module):
    """The tutorial's BaseNetwork: Dense layers named Dense_0, Dense_1, ... like ActLab's."""
    act_fn: callable = nn.relu
    hidden_sizes: tuple = (512, 256, 256, 128)
    num_classes: int = 10

    @nn.compact
    def __call__(self, x):
        x = x.reshape(x.shape[0], -1)
        for h in self.hidden_sizes:
            x = self.act_fn(nn.Dense(h)(x))
        return nn.Dense(self.num_classes)(x)


def read_checkpoint(data: bytes) -> dict:
    """The checkpoint's payload as a dict (params, opt_state, step, key, config, meta)."""
    if data[:8] != b"ACTLABCK":
        raise ValueError("not an ActLab checkpoint")
    version = int.from_bytes(data[8:12], "little")
    length = int.from_bytes(data[12:20], "little")
    if version not in (1, 2):
        raise ValueError(f"checkpoint format version {version}; this script reads versions 1 and 2")
    payload = data[24:]
    if len(payload) != length or zlib.crc32(payload) != int.from_bytes(data[20:24], "little"):
        raise ValueError("truncated or corrupt checkpoint")
    state = serialization.msgpack_restore(payload)
    state["config"] = json.loads(state["config"])
    act = state["config"]["activation"]
    if isinstance(act, str):  # version 1: a built-in by name, LeakyReLU's slope then 0.01
        formula, params = BUILTINS[act]
        act = {"name": act, "formula": formula, "params": {**params, **({"alpha": 0.01} if act == "leaky_relu" else {})}}
    state["config"]["activation"] = act
    return state


def main(argv: list) -> None:
    options = {}
    while len(argv) >= 2 and argv[-2] in ("--inputs", "--logits"):
        options[argv[-2]] = argv[-1]
        argv = argv[:-2]
    path, rest = argv[0], argv[1:]
    data = open(path, "rb").read()
    if data[:8] == b"ACTLABCK":
        state = read_checkpoint(data)
        act = state["config"]["activation"]
        formula, params = act["formula"], act["params"]
        hidden_sizes = tuple(state["config"]["mlp"]["hidden"])
        blob = serialization.to_bytes({"params": state["params"]})
        print(f"checkpoint: step {state['step']}, key {list(state['key'])}, {act['name']} = {formula} {params}, hidden {hidden_sizes}")
    else:
        name = rest[0] if rest else "relu"
        formula, params = BUILTINS.get(name, (name, {}))
        params = {**params, **{k: float(v) for k, v in (p.split("=") for p in rest[2:])}}
        hidden_sizes = tuple(int(h) for h in (rest[1] if len(rest) > 1 else "512,256,256,128").split(","))
        blob = data
    model = MLP(act_fn=activation(formula, params), hidden_sizes=hidden_sizes)
    variables = model.init(jax.random.key(0), jnp.ones((1, 784)))
    variables = serialization.from_bytes(variables, blob)  # the tutorial's load_model
    print(jax.tree_util.tree_map(lambda a: a.shape, variables))
    # Inputs are normalised like the tutorial's: (x / 255 - 0.5) / 0.5.
    print("classes of two blank images:", model.apply(variables, -jnp.ones((2, 784))).argmax(-1))
    if "--inputs" in options:
        x = np.fromfile(options["--inputs"], dtype="<f4").reshape(-1, 784)
        logits = np.asarray(jax.jit(model.apply)(variables, jnp.asarray(x)), dtype="<f4")
        if "--logits" in options:
            logits.tofile(options["--logits"])
        print(f"logits of {x.shape[0]} inputs: largest |logit| {np.abs(logits).max():.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
