"""A Hugging Face Transformers text classifier as an API (e.g. sentiment analysis).

Put the model in model/ with save_pretrained, so model/ holds config.json, the weights and the
tokenizer files:
    model.save_pretrained("model/"); tokenizer.save_pretrained("model/")
The platform imports this file once per worker, then calls inference_handler for every POST.

Try it before building:
    cd src && python -c "from main import inference_handler; print(inference_handler('What a great day', None))"
"""

import os

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from hub import hub_handler

# The folder that holds the files of model/. The platform sets MODEL_DIR; when you run this
# file yourself it falls back to the project's model/ folder.
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.getenv("MODEL_DIR", os.path.join(HERE, "..", "model"))

# Loaded once per worker, at import (never on every request).
tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
model = AutoModelForSequenceClassification.from_pretrained(MODEL_DIR)
model.eval()


@hub_handler
def inference_handler(inputs, context):
    """Classify one text or a list of texts.

    ``inputs`` is the decoded JSON body: ``"some text"`` or ``["text one", "text two"]``.
    Returns, for each text, its labels with their probability in percent, most likely first:
    ``[[["Positive", 93.58], ["Negative", 6.42]]]``.
    """
    if isinstance(inputs, str):
        inputs = [inputs]

    # preprocess: words to token ids, padded to the longest text of the batch
    encoded = tokenizer(inputs, padding=True, truncation=True, return_tensors="pt")

    # predict, without tracking gradients
    with torch.inference_mode():
        probabilities = torch.softmax(model(**encoded).logits, dim=-1)

    # post-process: (label, percent) pairs, most likely first
    output = []
    for row in probabilities:
        pairs = [(model.config.id2label[i], round(p.item() * 100, 2)) for i, p in enumerate(row)]
        output.append(sorted(pairs, key=lambda pair: pair[1], reverse=True))
    return output
