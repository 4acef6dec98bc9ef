"""Projects written for the hosted Hub API, with real frameworks: built, deployed and called here.

The guide's own sentiment tutorial (its main.py and client code verbatim, real
all-MiniLM-L6-v2 weights with a head trained on the spot) and a TorchScript + torchvision
handwritten-digit recogniser (its hub_config.json as the hosted service wrote it) called the way
its web app does: a base64 PNG in the JSON body.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests
from guide_client import run_guide_client

pytestmark = [pytest.mark.frameworks, pytest.mark.timeout(3600)]
DATA = Path(__file__).parent / "data"


def test_the_guides_sentiment_tutorial_runs_end_to_end(projects, hub_platform, minilm):
    # hub init sentiment-analyser, then the guide's main.py and requirements
    project = projects.init("sentiment-analyser")
    main_py = (DATA / "guide_sentiment_main.py.txt").read_text()
    (project / "src" / "main.py").write_text(main_py)
    (project / "src" / "requirements.txt").write_text("torch\ntransformers\n")

    # The guide downloads a trained model into model/; here it is made with the environment
    # that `hub build` made (real MiniLM weights, a 3-label head trained for a few steps).
    first = projects.build(project)
    projects.make_model(first, "sentiment.py", str(minilm), str(project / "model"))
    assert (project / "model" / "config.json").is_file()

    build = projects.build(project)
    assert build["env_reused"] and build["model_bytes"] > 80_000_000
    deployed = projects.deploy(project)
    assert deployed["endpoint"] == hub_platform.endpoint("sentiment-analyser")

    # The guide's client code: GET to load, POST sample_inputs[0], print body.output
    output = run_guide_client(hub_platform, "sentiment-analyser")
    assert len(output) == 1  # one text in, one ranking out
    ranking = output[0]
    assert sorted(label for label, _ in ranking) == ["Negative", "Neutral", "Positive"]
    percents = [p for _, p in ranking]
    assert percents == sorted(percents, reverse=True)
    assert sum(percents) == pytest.approx(100, abs=0.05)

    # A list of texts works too, and the head trained here is the one that answers.
    headers = {"x-api-key": hub_platform.key(), "Content-Type": "application/json"}
    texts = ["I hate this, it is awful and broken.", "The report has twelve pages."]
    body = requests.post(deployed["endpoint"], headers=headers, data=json.dumps(texts)).json()
    assert [ranking[0][0] for ranking in body["body"]["output"]] == ["Negative", "Neutral"]
    projects.delete("sentiment-analyser")


def test_a_torchscript_torchvision_digit_recogniser_reads_base64_pngs(
    projects, hub_platform, tmp_path
):
    project = projects.init("digit-recogniser")
    # The files of the hosted project: its hub_config.json as the hosted service wrote it
    (project / "hub_config.json").write_text('{"project": "digit-recogniser", "version": "1.0"}')
    (project / "src" / "main.py").write_text((DATA / "digit_recogniser_main.py").read_text())
    (project / "src" / "requirements.txt").write_text("torch\ntorchvision\n")

    # A tiny CNN trained here on drawn digits, saved with torch.jit.script(...).save
    first = projects.build(project)
    samples = tmp_path / "samples"
    projects.make_model(first, "digits.py", str(project / "model" / "digit_cnn.pt"), str(samples))
    projects.build(project)
    endpoint = projects.deploy(project)["endpoint"]

    # What the web app does: GET to wake the API, then POST the canvas as a base64 PNG.
    headers = {"x-api-key": hub_platform.key(), "Content-Type": "application/json"}
    ready = requests.get(endpoint, headers=headers, timeout=600).json()
    assert ready["statusCode"] == 200 and ready["body"]["status"] == "ready"
    png = {d: base64.b64encode((samples / f"{d}.png").read_bytes()).decode() for d in range(10)}
    for digit in (3, 7):
        data_url = "data:image/png;base64," + png[digit]
        answer = requests.post(endpoint, headers=headers, data=json.dumps(data_url), timeout=120)
        assert answer.status_code == 200, answer.text
        [guess] = answer.json()["body"]["output"]
        assert guess["digit"] == digit and 0 < guess["confidence"] <= 100

    # a batch of every digit
    answer = requests.post(endpoint, headers=headers, json=list(png.values()), timeout=120)
    assert [g["digit"] for g in answer.json()["body"]["output"]] == list(range(10))
    projects.delete("digit-recogniser")
