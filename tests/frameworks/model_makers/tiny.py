"""Make the tiny models the framework templates are tested with, with known weights.

Run with the API environment's own Python (the test's Python has no framework):

    <env>/bin/python tiny.py torchscript OUT_FILE   # torch.nn.Linear(3, 2), TorchScript
    <env>/bin/python tiny.py keras OUT_FILE         # keras Dense(1) summing its 3 inputs

The weights are fixed, so the test knows what the deployed API must answer.
"""

import sys


def torchscript(out_file: str) -> None:
    """y = (x0, x1 + x2): a Linear layer with set weights, scripted and saved."""
    import torch

    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
        layer.bias.zero_()
    torch.jit.script(layer).save(out_file)


def keras_model(out_file: str) -> None:
    """y = x0 + x1 + x2: one Dense unit with all-ones weights, saved in Keras's own format."""
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False)])
    model.layers[0].set_weights([np.ones((3, 1), dtype="float32")])
    model.save(out_file)


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    {"torchscript": torchscript, "keras": keras_model}[kind](out)
