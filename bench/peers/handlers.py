"""The three benchmark handlers, written once and called by every system's app.

Every system receives the same request body, ``{"inputs": <payload>}``, and calls one of these
functions with the payload. Keeping the work in one module means the systems differ only in
how they serve it, which is what the benchmark measures.

``BENCH_HANDLER`` (``echo``, ``sklearn`` or ``sleep``) picks the handler and ``BENCH_MODEL_DIR``
is the folder of the model that ``train_model.py`` saved.
"""

import os
import time

HANDLERS = ("echo", "sklearn", "sleep")

# The bodies the load generator sends, one per handler (JSON text).
PAYLOADS = {
    "echo": '{"inputs": {"text": "hello world", "n": 1}}',
    "sklearn": '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}',
    "sleep": '{"inputs": 1}',
}


def echo(payload):
    """Return the payload unchanged: the cost of serving alone."""
    return payload


def sleep(payload):
    """Block for 50 ms like a slow model or a remote call: shows how calls overlap."""
    time.sleep(0.05)
    return "slept"


def make_sklearn(model_dir):
    """Load the joblib model from ``model_dir`` once and return its predict function."""
    import joblib
    import numpy as np

    model = joblib.load(os.path.join(model_dir, "model.joblib"))

    def predict(payload):
        """Predict the class of each row of features."""
        rows = np.asarray(payload, dtype=float).reshape(-1, 4)
        return model.predict(rows).tolist()

    return predict


def load(name=None, model_dir=None):
    """The handler named ``name`` (default: ``$BENCH_HANDLER``), ready to call."""
    name = name or os.environ.get("BENCH_HANDLER", "echo")
    if name == "echo":
        return echo
    if name == "sleep":
        return sleep
    if name == "sklearn":
        return make_sklearn(model_dir or os.environ["BENCH_MODEL_DIR"])
    if name == "torch":  # batch_bench.py's MLP (torch_mlp.py); not one of serving.py's HANDLERS
        import torch_mlp

        return torch_mlp.make_predict(model_dir or os.environ["BENCH_MODEL_DIR"])
    raise ValueError(f"Unknown benchmark handler {name!r}: use one of {', '.join(HANDLERS)}.")
