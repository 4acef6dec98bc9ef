"""BentoML's adaptive batching (``@bentoml.api(batchable=True)``) for batch_bench.py: the iris
model (``BatchedIris``) and the MLP of torch_mlp.py (``BatchedMLP``).

Run: BENCH_MODEL_DIR=... bentoml serve bentoml_batch_service:BatchedIris --port 8000
Requests ``{"inputs": [[f1, f2, f3, f4], ...]}``; BentoML concatenates the arrays of the
requests waiting together (batch_dim 0, at most 32; its adaptive dispatcher decides the wait; max_latency_ms is the
latency past which it refuses a request, set high so that nothing is refused), predicts
once and splits the answer back. Two workers, like the tuned peers of serving.py.
"""

import os

import bentoml
import numpy as np


@bentoml.service(workers=2)
class BatchedIris:
    def __init__(self):
        import joblib

        self.model = joblib.load(os.path.join(os.environ["BENCH_MODEL_DIR"], "model.joblib"))

    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=32, max_latency_ms=10000)
    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return self.model.predict(np.asarray(inputs, dtype=float).reshape(-1, 4))


@bentoml.service(workers=2)
class BatchedMLP:
    """The MLP of torch_mlp.py, with the same batching as ``BatchedIris``."""

    def __init__(self):
        import torch_mlp

        self.predict_rows = torch_mlp.make_predict(os.environ["BENCH_MODEL_DIR"])
        self.features = torch_mlp.FEATURES

    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=32, max_latency_ms=10000)
    def predict(self, inputs: np.ndarray) -> np.ndarray:
        rows = np.asarray(inputs, dtype=np.float32).reshape(-1, self.features)
        return np.asarray(self.predict_rows(rows.tolist()))
