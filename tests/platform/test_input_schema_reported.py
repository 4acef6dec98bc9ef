"""A deployed API reports its handler's input schema and whether it streams (GET /api/v1/apis/{name}).

The schema is read at build time from main.py's type hints (or hub_config.json's input_schema)
and kept with the build record; the deployments panel's test console makes its form from it.
"""

from __future__ import annotations

import json

import fastjsonschema
import httpx
from platform_helpers import build_record

TYPED_MAIN = """\
from typing import Literal, TypedDict

from hub import hub_handler


class Query(TypedDict):
    text: str
    lang: Literal["en", "de"]


@hub_handler
def answer(inputs: Query, context):
    return {"echo": inputs["text"], "lang": inputs["lang"]}
"""

STREAM_MAIN = """\
from hub import hub_handler


@hub_handler
def tokens(inputs: int, context):
    for i in range(inputs):
        yield i
"""


def _standard_library_only(project) -> None:
    path = project / "hub_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "base_packages": False}))


def test_a_deployed_api_reports_its_input_schema(platform):
    project = platform.make_project("typed", TYPED_MAIN)
    _standard_library_only(project)
    platform.deploy(project)
    detail = platform.control("GET", "/api/v1/apis/typed").json()
    handler = detail["handler"]
    assert handler["input_source"] == "type_hints"
    assert handler["streams"] is False
    schema = handler["input_schema"]
    assert schema["required"] == ["text", "lang"]
    # What the schema accepts, the handler answers.
    value = {"text": "hi", "lang": "de"}
    fastjsonschema.compile(schema)(value)
    resp = httpx.post(platform.endpoint("typed"), headers={"x-api-key": platform.key()}, json=value)
    assert resp.status_code == 200, resp.text
    assert resp.json()["body"]["output"] == {"echo": "hi", "lang": "de"}

    # The project declares a schema: it wins over the type hints, after a redeploy.
    declared = {"type": "object", "properties": {"text": {"type": "string", "title": "Text"}}}
    config = json.loads((project / "hub_config.json").read_text())
    (project / "hub_config.json").write_text(json.dumps({**config, "input_schema": declared}))
    platform.deploy(project)
    handler = platform.control("GET", "/api/v1/apis/typed").json()["handler"]
    assert handler == {"input_schema": declared, "input_source": "hub_config", "streams": False}


def test_a_generator_handler_is_reported_as_streaming(platform):
    project = platform.make_project("counter", STREAM_MAIN)
    _standard_library_only(project)
    platform.deploy(project)
    handler = platform.control("GET", "/api/v1/apis/counter").json()["handler"]
    assert handler == {
        "input_schema": {"type": "integer"},
        "input_source": "type_hints",
        "streams": True,
    }


def test_a_bad_declared_schema_stops_the_build(platform):
    project = platform.make_project("badschema", TYPED_MAIN)
    config = json.loads((project / "hub_config.json").read_text())
    (project / "hub_config.json").write_text(json.dumps({**config, "input_schema": {"type": 5}}))
    result = platform.hub("build", cwd=project)
    assert result.returncode != 0
    assert "input_schema is not a valid JSON Schema" in result.stdout + result.stderr


def test_a_record_with_a_malformed_handler_is_refused(platform):
    record = build_record("oddrecord")
    record["handler"] = {"input_schema": "not an object"}
    resp = platform.control("POST", "/api/v1/deployments", json={"record": record})
    assert resp.status_code == 400, resp.text
    assert "handler must be" in resp.json()["error"]["message"]


DECORATED_MAIN = """\
from hub import hub_handler


@hub_handler(input_schema={"type": "object", "properties": {"n": {"type": "integer"}},
                           "required": ["n"]})
def double(inputs, context):
    return inputs["n"] * 2
"""


def test_a_schema_given_to_the_decorator_is_reported_and_the_handler_serves(platform):
    project = platform.make_project("decorated", DECORATED_MAIN)
    _standard_library_only(project)
    platform.deploy(project)
    handler = platform.control("GET", "/api/v1/apis/decorated").json()["handler"]
    assert handler["input_source"] == "decorator"
    assert handler["input_schema"]["required"] == ["n"]
    h = {"x-api-key": platform.key()}
    resp = httpx.post(platform.endpoint("decorated"), headers=h, json={"n": 21})
    assert resp.status_code == 200, resp.text
    assert resp.json()["body"]["output"] == 42
    # Not a literal: the build says where and what to do, and nothing is deployed.
    (project / "src" / "main.py").write_text(
        DECORATED_MAIN.replace('input_schema={"type"', 'input_schema=dict(type="object"), x={"t"')
    )
    result = platform.hub("build", cwd=project)
    assert result.returncode != 0
    assert "must be written out as a dict literal" in result.stdout + result.stderr
