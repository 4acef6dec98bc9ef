"""main.py written from a predict function, and the model saved beside it, run as a worker
would run them (a fresh interpreter, MODEL_DIR set); and the one-sentence refusals."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from numpy.linalg import norm
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from jupyter_hub_api.errors import UsageError
from jupyter_hub_api.notebook.handler_source import handler_source
from jupyter_hub_api.notebook.model_files import model_format, save_model

SCALE = {"factor": 2.0, "labels": ("a", "b")}


def rescale(rows):
    return np.asarray(rows, dtype=float) * SCALE["factor"]


def predict(model, inputs):
    rows = rescale(inputs).reshape(-1, 4) / SCALE["factor"]
    return {"classes": model.predict(rows), "norms": norm(rows, axis=1).round(2)}


def run_main(tmp_path, model, func, inputs):
    """Write the project's src/ and model/ as deploy() does, then call the handler in a new
    interpreter; what it returned."""
    src, model_dir = tmp_path / "src", tmp_path / "model"
    src.mkdir()
    model_dir.mkdir()
    fmt = model_format(model)
    (src / "main.py").write_text(handler_source(func, model, fmt, "t"))
    save_model(model, fmt, model_dir)
    code = (
        "import json, sys; sys.path.insert(0, 'src'); from main import inference_handler; "
        f"print(json.dumps(inference_handler({inputs!r}, None)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1]), (src / "main.py").read_text()


def test_main_py_holds_predict_and_what_it_uses_and_serves_the_saved_model(tmp_path):
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    output, main_py = run_main(tmp_path, model, predict, [[5.1, 3.5, 1.4, 0.2]])
    assert output == {"classes": [0], "norms": [6.35]}  # NumPy values made plain JSON
    assert "import numpy as np" in main_py
    assert "from numpy.linalg import norm" in main_py
    assert "SCALE = {'factor': 2.0, 'labels': ('a', 'b')}" in main_py
    assert main_py.index("def rescale(rows):") < main_py.index("def predict(model, inputs):")
    assert 'joblib.load(os.path.join(MODEL_DIR, "model.joblib"))' in main_py


def test_a_model_of_plain_data_and_a_decorated_predict(tmp_path):
    def shout(func):
        return func

    @shout
    def lookup(model, inputs):
        return model[inputs]

    output, main_py = run_main(tmp_path, {"x": [1, 2]}, lookup, "x")
    assert output == [1, 2] and "@shout" not in main_py


def lambda_predict():
    return lambda model, inputs: inputs


def outer():
    offset = 1

    def closure(model, inputs):
        return inputs + offset

    return closure


LOCK = threading.Lock()


def uses_lock(model, inputs):
    with LOCK:
        return inputs


def uses_undefined(model, inputs):
    return undefined_helper(inputs)  # noqa: F821


def one_argument(inputs):
    return inputs


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (lambda_predict(), "A lambda cannot be deployed"),
        (outer(), "closure uses offset of the function it is defined in"),
        (uses_lock, "uses LOCK, a _thread.lock of the notebook, which main.py cannot hold"),
        (uses_undefined, "uses undefined_helper, which is not defined in the notebook"),
        (one_argument, r"one_argument\(inputs\) cannot be called as one_argument\(model, inputs\)"),
        (len, "predict must be a function defined with def, not a builtin_function_or_method"),
    ],
)
def test_a_predict_main_py_cannot_hold_is_refused_with_one_sentence(func, message):
    with pytest.raises(UsageError, match=message):
        handler_source(func, None, model_format(None), "t")


def test_a_model_pickle_cannot_save_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(UsageError, match=r"The model \(a _thread.lock\) cannot be saved"):
        model_format(threading.Lock())
    assert list(tmp_path.iterdir()) == []
