"""The PyTorch, Transformers and Keras templates of `hub init`, run for real.

Each is scaffolded, built (the framework installed into the API's environment by `hub build`),
given a model made on the spot with that environment's Python, rebuilt, deployed and called
over HTTP as the guide's client does. What the API answers is known from the model's weights.
"""

from __future__ import annotations

import json

import pytest
import requests

pytestmark = [pytest.mark.frameworks, pytest.mark.timeout(3600)]


def call(platform, endpoint: str, payload) -> object:
    """GET to load the API (checked ready), then POST ``payload``: the answer's body.output."""
    headers = {"x-api-key": platform.key(), "Content-Type": "application/json"}
    ready = requests.get(endpoint, headers=headers, timeout=600).json()
    assert ready["statusCode"] == 200 and ready["body"]["status"] == "ready", ready
    answer = requests.post(endpoint, headers=headers, data=json.dumps(payload), timeout=120)
    assert answer.status_code == 200, answer.text
    assert answer.json()["statusCode"] == 200
    return answer.json()["body"]["output"]


def test_pytorch_template_serves_a_torchscript_model(projects, hub_platform):
    project = projects.init("pt-template", "pytorch")
    first = projects.build(project)
    assert first["model_bytes"] == 0  # model/ is still empty
    projects.make_model(first, "tiny.py", "torchscript", str(project / "model" / "model.pt"))
    assert projects.build(project)["env_reused"]
    endpoint = projects.deploy(project)["endpoint"]

    # y = (x0, x1 + x2), for a batch and for one example
    assert call(hub_platform, endpoint, [[1.0, 2.0, 3.0], [0.5, 0, 1]]) == [[1.0, 5.0], [0.5, 1.0]]
    assert call(hub_platform, endpoint, {"inputs": [2.0, 2.0, 2.0]}) == [[2.0, 4.0]]
    projects.delete("pt-template")


def test_transformers_template_classifies_with_minilm_and_a_head_trained_here(
    projects, hub_platform, minilm
):
    project = projects.init("tf-template", "transformers")
    first = projects.build(project)
    projects.make_model(first, "sentiment.py", str(minilm), str(project / "model"))
    projects.build(project)
    endpoint = projects.deploy(project)["endpoint"]

    texts = ["I love this, it is wonderful and so simple!", "I hate this, it is awful and broken."]
    output = call(hub_platform, endpoint, texts)
    assert [ranking[0][0] for ranking in output] == ["Positive", "Negative"]
    for ranking in output:
        assert sorted(label for label, _ in ranking) == ["Negative", "Neutral", "Positive"]
        assert sum(p for _, p in ranking) == pytest.approx(100, abs=0.05)
    [single] = call(hub_platform, endpoint, "The meeting is on Tuesday at ten.")
    assert single[0][0] == "Neutral"
    projects.delete("tf-template")


def test_keras_template_serves_a_saved_keras_model(projects, hub_platform):
    project = projects.init("keras-template", "keras")
    first = projects.build(project)
    projects.make_model(first, "tiny.py", "keras", str(project / "model" / "model.keras"))
    projects.build(project)
    endpoint = projects.deploy(project)["endpoint"]

    # y = x0 + x1 + x2
    assert call(hub_platform, endpoint, [[1.0, 2.0, 3.0], [0.25, 0.25, 0.5]]) == [[6.0], [1.0]]
    assert call(hub_platform, endpoint, [4.0, 0.0, 1.0]) == [[5.0]]
    projects.delete("keras-template")
