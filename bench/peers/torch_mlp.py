"""The small PyTorch model of batch_bench.py: an MLP made on the spot, loaded by every system.

    python torch_mlp.py MODEL_DIR      # writes MODEL_DIR/mlp.pt (a state_dict) and mlp.json

A 32 -> 256 -> 256 -> 8 multilayer perceptron with ReLUs, randomly initialised with a fixed seed
(no training: the benchmark measures serving, and the weights' values do not change the cost of a
forward pass), saved with ``torch.save(model.state_dict())``. Each request carries rows of 32
features and gets one class per row (the argmax of the logits). Every system loads it with
:func:`make_predict`, which runs it in inference mode with one intra-op thread (each system runs
two workers on the machine's two cores; torch's default of one thread per core in every worker
would make them fight over the cores).
"""

import json
import os
import sys

FEATURES, HIDDEN, CLASSES, SEED = 32, 256, 8, 0
# The body every system gets: one row of features.
PAYLOAD = json.dumps({"inputs": [[round(0.01 * i, 2) for i in range(FEATURES)]]})


def _model():
    from torch import nn

    return nn.Sequential(
        nn.Linear(FEATURES, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, CLASSES),
    )


def make(model_dir):
    """Write the randomly initialised MLP's state_dict to ``model_dir/mlp.pt``."""
    import torch

    os.makedirs(model_dir, exist_ok=True)
    torch.manual_seed(SEED)
    model = _model()
    torch.save(model.state_dict(), os.path.join(model_dir, "mlp.pt"))
    with open(os.path.join(model_dir, "mlp.json"), "w") as f:
        json.dump({"features": FEATURES, "hidden": HIDDEN, "classes": CLASSES, "seed": SEED}, f)
    return os.path.join(model_dir, "mlp.pt")


def make_predict(model_dir):
    """Load the MLP from ``model_dir`` once; return a function from rows to their classes."""
    import torch

    torch.set_num_threads(1)
    model = _model()
    model.load_state_dict(torch.load(os.path.join(model_dir, "mlp.pt"), weights_only=True))
    model.eval()

    def predict(rows):
        """One class per row of ``FEATURES`` numbers, all rows in one forward pass."""
        with torch.inference_mode():
            x = torch.tensor(rows, dtype=torch.float32).reshape(-1, FEATURES)
            return model(x).argmax(dim=1).tolist()

    return predict


if __name__ == "__main__":
    print(make(sys.argv[1]))
