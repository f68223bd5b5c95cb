"""Load what the ActLab page saves into Flax: an exported model (`*.msgpack`, "Export best model
for Flax") or a checkpoint (`*.actlab`, "Save checkpoint"; format in docs/checkpoints.md).

    pip install jax flax
    python examples/flax/load_actlab.py actlab-relu-params.msgpack [relu] [512,256,256,128]
    python examples/flax/load_actlab.py actlab-relu-seed42-epoch5.actlab

Prints the parameter shapes and the predicted classes of two blank images.
"""
import json
import sys
import zlib

import jax
import jax.numpy as jnp
import flax.linen as nn
from flax import serialization


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


ACTIVATIONS = {"sigmoid": nn.sigmoid, "tanh": nn.tanh, "relu": nn.relu,
               "leaky_relu": nn.leaky_relu, "elu": nn.elu, "swish": nn.swish}


def read_checkpoint(data: bytes) -> dict:
    """The checkpoint's payload as a dict (params, opt_state, step, key, config, meta)."""
    if data[:8] != b"ACTLABCK":
        raise ValueError("not an ActLab checkpoint")
    version = int.from_bytes(data[8:12], "little")
    length = int.from_bytes(data[12:20], "little")
    if version != 1:
        raise ValueError(f"checkpoint format version {version}; this script reads version 1")
    payload = data[24:]
    if len(payload) != length or zlib.crc32(payload) != int.from_bytes(data[20:24], "little"):
        raise ValueError("truncated or corrupt checkpoint")
    state = serialization.msgpack_restore(payload)
    state["config"] = json.loads(state["config"])
    return state


def main(path: str, activation: str = "relu", hidden: str = "512,256,256,128") -> None:
    data = open(path, "rb").read()
    if data[:8] == b"ACTLABCK":
        state = read_checkpoint(data)
        activation, hidden_sizes = state["config"]["activation"], tuple(state["config"]["mlp"]["hidden"])
        blob = serialization.to_bytes({"params": state["params"]})
        print(f"checkpoint: step {state['step']}, key {list(state['key'])}, {activation}, hidden {hidden_sizes}")
    else:
        hidden_sizes, blob = tuple(int(h) for h in hidden.split(",")), data
    model = MLP(act_fn=ACTIVATIONS[activation], hidden_sizes=hidden_sizes)
    variables = model.init(jax.random.key(0), jnp.ones((1, 784)))
    variables = serialization.from_bytes(variables, blob)  # the tutorial's load_model
    print(jax.tree_util.tree_map(lambda a: a.shape, variables))
    # Inputs are normalised like the tutorial's: (x / 255 - 0.5) / 0.5.
    print("classes of two blank images:", model.apply(variables, -jnp.ones((2, 784))).argmax(-1))


if __name__ == "__main__":
    main(*sys.argv[1:])
