"""The hosted service's 2021 handler style, ``def handler(event, context)`` without a decorator,
built and deployed with the real CLI and called with the hosted guide's client code."""

from __future__ import annotations

import json
import textwrap

import pytest
import requests

# As the 2021 quickstart wrote main.py (its "DO NOT EDIT" ping block, json-encoded inputs and
# body), with a sibling module for the model code and one error answer of its own.
MAIN_2021 = """\
import json
import os
# Add your own import statements
from classifier import predict

def handler(event, context):
    '''The main function which gets triggered on an API call for an AI model'''
    # ==================== DO NOT EDIT ====================
    if event == 'PING':
        print("pinged")
        return {
            'statusCode': 200,
            'body': json.dumps("PING RESPONSE")
        }
    # =====================================================
    # Access your json encoded string input
    inputs = json.loads(event['inputs'])
    if isinstance(inputs, dict) and 'missing' in inputs:
        return {'statusCode': 404, 'body': json.dumps('no item ' + str(inputs['missing']))}
    if inputs == 'no status':
        return {'body': json.dumps(inputs)}

    # Predict function of your model on the input
    output = predict(inputs)

    return {
        'statusCode': 200,
        'body': json.dumps(output)
    }
"""

CLASSIFIER = """\
import os

with open(os.path.join(os.getenv("MODEL_DIR"), "labels.txt")) as f:
    LABELS = f.read().split()

def predict(images):
    return [(LABELS[len(image) % 2], 0.9) for image in images]
"""


@pytest.fixture(scope="module")
def api_2021(hosted_platform, tmp_path_factory):
    """The 2021 project deployed with `hub build --deploy`; (endpoint, headers) of the guide."""
    root = tmp_path_factory.mktemp("projects") / "ants_bees"
    (root / "src").mkdir(parents=True)
    (root / "model").mkdir()
    # hub_config.json as the hosted service wrote it (its 2021 quickstart named the project ants_bees)
    (root / "hub_config.json").write_text(json.dumps({"project": "ants_bees", "version": "1.0"}))
    (root / "src" / "main.py").write_text(MAIN_2021)
    (root / "src" / "classifier.py").write_text(textwrap.dedent(CLASSIFIER))
    (root / "src" / "requirements.txt").write_text("")
    (root / "model" / "labels.txt").write_text("ants bees\n")
    run = hosted_platform.hub("build", "--deploy", "--json", cwd=root)
    assert run.returncode == 0, run.stdout + run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    result = [e for e in events if e["event"] == "result"][-1]
    assert result["handler"] == "handler"
    assert result["endpoint"].endswith("/alice/ants_bees")
    headers = {"x-api-key": hosted_platform.key(), "Content-Type": "application/json"}
    return result["endpoint"], headers


def test_a_get_calls_the_2021_handler_with_ping_and_shows_its_answer(api_2021, hosted_platform):
    endpoint, headers = api_2021
    response = requests.get(endpoint, headers=headers, timeout=120).json()
    assert response["statusCode"] == 200
    assert response["body"]["status"] == "ready"
    assert response["body"]["output"] == "PING RESPONSE"
    logs = hosted_platform.hub("logs", "ants_bees", "--json")
    assert "pinged" in [json.loads(e).get("line") for e in logs.stdout.splitlines()]


def test_a_post_answers_the_unwrapped_body_in_our_envelope(api_2021):
    endpoint, headers = api_2021
    payload = ["aaaa", "bbb"]  # the guide sent base64 strings; any JSON value works
    resp = requests.post(endpoint, headers=headers, data=json.dumps(payload), timeout=120)
    response = resp.json()
    assert resp.status_code == 200
    if response.get("statusCode") == 200:
        output = response["body"]["output"]
    else:
        output = response
    assert output == [["ants", 0.9], ["bees", 0.9]]
    assert response["body"]["invocation_id"]


def test_a_status_code_other_than_200_is_that_http_status_with_the_body_as_message(api_2021):
    endpoint, headers = api_2021
    resp = requests.post(endpoint, headers=headers, data=json.dumps({"missing": 7}), timeout=120)
    assert resp.status_code == 404
    envelope = resp.json()
    assert envelope["statusCode"] == 404
    assert envelope["body"]["error"] == {"type": "HandlerStatus", "message": "no item 7"}
    assert envelope["body"]["invocation_id"]


def test_an_answer_without_a_status_code_is_a_500_that_says_what_to_return(api_2021):
    endpoint, headers = api_2021
    resp = requests.post(endpoint, headers=headers, data=json.dumps("no status"), timeout=120)
    assert resp.status_code == 500
    message = resp.json()["body"]["error"]["message"]
    assert "statusCode" in message and "json.dumps(output)" in message
