"""A TensorFlow / Keras model as an API.

Put your model in model/ in Keras's own format: model.save("model/model.keras").
The platform imports this file once per worker, then calls inference_handler for every POST.

Try it before building:
    cd src && python -c "from main import inference_handler; print(inference_handler([[0.1, 0.2, 0.3]], None))"
"""

import glob
import os

import keras
import numpy as np

from hub import hub_handler

# The folder that holds the files of model/. The platform sets MODEL_DIR; when you run this
# file yourself it falls back to the project's model/ folder.
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.getenv("MODEL_DIR", os.path.join(HERE, "..", "model"))


def find_model_file(folder):
    """model/model.keras if it is there, else the only .keras or .h5 file of model/."""
    preferred = os.path.join(folder, "model.keras")
    if os.path.isfile(preferred):
        return preferred
    found = sorted(
        glob.glob(os.path.join(folder, "*.keras")) + glob.glob(os.path.join(folder, "*.h5"))
    )
    if len(found) != 1:
        raise FileNotFoundError(
            f"Expected one model file (.keras or .h5) in {folder}, found {len(found)}: "
            "save your model with model.save('model/model.keras')."
        )
    return found[0]


# Loaded once per worker, at import (never on every request).
model = keras.models.load_model(find_model_file(MODEL_DIR))


@hub_handler
def inference_handler(inputs, context):
    """Run the model on a batch.

    ``inputs`` is the decoded JSON body: one example (a list of numbers) or a batch (a list of
    lists), or ``{"inputs": ...}``. Returns the model's output as nested lists.
    """
    if isinstance(inputs, dict):
        inputs = inputs["inputs"]
    batch = np.asarray(inputs, dtype="float32")
    if batch.ndim == 1:  # a single example: add the batch dimension
        batch = batch[np.newaxis, :]

    outputs = model.predict(batch, verbose=0)

    # .tolist() turns NumPy values into plain Python numbers that JSON can hold.
    return np.asarray(outputs).tolist()
