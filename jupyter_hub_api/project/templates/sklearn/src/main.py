"""A scikit-learn model as an API.

Put your fitted model in model/ as a joblib file (joblib.dump(model, "model/model.joblib"));
`hub init --model-file` copies it there for you. The platform imports this file once per worker,
then calls inference_handler for every POST request.

Try it before building:
    cd src && python -c "from main import inference_handler; print(inference_handler([[5.1, 3.5, 1.4, 0.2]], None))"
"""

import glob
import os

import joblib
import numpy as np

from hub import hub_handler

# The folder that holds the files of model/. The platform sets MODEL_DIR; when you run this
# file yourself it falls back to the project's model/ folder.
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.getenv("MODEL_DIR", os.path.join(HERE, "..", "model"))


def find_model_file(folder, patterns=("*.joblib", "*.pkl", "*.pickle")):
    """The model file in ``folder``: model.joblib if it is there, else the only joblib/pickle file."""
    preferred = os.path.join(folder, "model.joblib")
    if os.path.isfile(preferred):
        return preferred
    found = sorted(f for pattern in patterns for f in glob.glob(os.path.join(folder, pattern)))
    if len(found) != 1:
        raise FileNotFoundError(
            f"Expected one model file (.joblib or .pkl) in {folder}, found {len(found)}: "
            "save your model with joblib.dump(model, 'model/model.joblib')."
        )
    return found[0]


# Loaded once per worker, at import (never on every request). Only load pickles you trust:
# unpickling runs code.
model = joblib.load(find_model_file(MODEL_DIR))


@hub_handler
def inference_handler(inputs, context):
    """Predict for one or more rows of features.

    ``inputs`` is the decoded JSON body: one row ``[5.1, 3.5, 1.4, 0.2]``, several rows
    ``[[...], [...]]``, or ``{"instances": [[...], ...]}``. Returns one prediction per row; with
    a classifier that has predict_proba, each prediction comes with its class probabilities.
    """
    if isinstance(inputs, dict):
        inputs = inputs.get("instances", inputs.get("inputs"))
    rows = np.asarray(inputs, dtype=float)
    if rows.ndim == 1:  # a single row
        rows = rows.reshape(1, -1)

    predictions = model.predict(rows).tolist()  # .tolist(): NumPy values -> plain Python ones

    # A classifier that can tell how sure it is also returns its class probabilities.
    if hasattr(model, "predict_proba"):
        probabilities = np.round(model.predict_proba(rows), 4).tolist()
        labels = [str(label) for label in model.classes_]
        output = []
        for i, prediction in enumerate(predictions):
            scores = {label: probabilities[i][j] for j, label in enumerate(labels)}
            output.append({"prediction": prediction, "probabilities": scores})
        return output
    return predictions
