"""A PyTorch model as an API.

Put your model in model/ as TorchScript, which loads without your model's Python class:
    scripted = torch.jit.script(model)   # or torch.jit.trace(model, example_input)
    scripted.save("model/model.pt")
(If you prefer a state_dict, define your nn.Module class below and load_state_dict into it.)
The platform imports this file once per worker, then calls inference_handler for every POST.

Try it before building:
    cd src && python -c "from main import inference_handler; print(inference_handler([[0.1, 0.2, 0.3]], None))"
"""

import os

import torch

from hub import hub_handler

# The folder that holds the files of model/. The platform sets MODEL_DIR; when you run this
# file yourself it falls back to the project's model/ folder.
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.getenv("MODEL_DIR", os.path.join(HERE, "..", "model"))

# The API answers on CPU unless a GPU is there.
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

# Loaded once per worker, at import (never on every request).
model = torch.jit.load(os.path.join(MODEL_DIR, "model.pt"), map_location=DEVICE)
model.eval()  # inference mode for dropout / batch-norm layers


@hub_handler
def inference_handler(inputs, context):
    """Run the model on a batch.

    ``inputs`` is the decoded JSON body: a list of numbers (one example) or a list of lists (a
    batch), or ``{"inputs": ...}``. Returns the model's output as nested lists.
    """
    if isinstance(inputs, dict):
        inputs = inputs["inputs"]
    batch = torch.tensor(inputs, dtype=torch.float32, device=DEVICE)
    if batch.ndim == 1:  # a single example: add the batch dimension
        batch = batch.unsqueeze(0)

    with torch.inference_mode():  # no gradients: faster and lighter
        outputs = model(batch)

    # .tolist() turns tensors into plain Python numbers that JSON can hold.
    return outputs.cpu().tolist()
