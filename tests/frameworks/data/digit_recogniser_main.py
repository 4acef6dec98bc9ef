"""A handwritten-digit recogniser in the style of the hosted service's projects.

The src/main.py of a project written for the hosted Hub API: a TorchScript CNN loaded with
torch.jit.load, torchvision transforms, and the project's utils.convert_base64_to_image on the
base64 image a web app sends. The test copies it into a project made by `hub init`.
"""

import os

import torch
from torchvision import transforms
from utils import convert_base64_to_image

from hub import hub_handler

MODEL_DIR = os.getenv("MODEL_DIR")

model = torch.jit.load(os.path.join(MODEL_DIR, "digit_cnn.pt"), map_location="cpu")
model.eval()

# ToTensor first: it takes a Pillow image or a NumPy array alike.
preprocess = transforms.Compose(
    [
        transforms.ToTensor(),
        transforms.Grayscale(),
        transforms.Resize((28, 28), antialias=True),
        transforms.Normalize((0.5,), (0.5,)),
    ]
)


@hub_handler
def inference_handler(inputs, _):
    """One base64 image, or a list of them: the digit of each, with its confidence."""
    images = inputs if isinstance(inputs, list) else [inputs]
    batch = torch.stack([preprocess(convert_base64_to_image(image)) for image in images])
    with torch.inference_mode():
        probabilities = torch.softmax(model(batch), dim=-1)
    return [
        {"digit": int(p.argmax()), "confidence": round(float(p.max()) * 100, 2)}
        for p in probabilities
    ]
