"""The OpenAPI document: generated from the code, checked in current, served, and describing
exactly the routes the platform serves."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from jupyter_hub_api.platform import openapi
from jupyter_hub_api.platform.control import Control


def test_the_checked_in_document_is_what_the_code_generates():
    # If this fails: run `python -m jupyter_hub_api.platform.openapi` and commit openapi.yaml
    # (and `jlpm gen:types` for the TypeScript types made from it).
    assert openapi.FILE.read_text() == openapi.text("yaml")


def test_the_generator_says_when_the_file_is_stale(tmp_path, monkeypatch):
    stale = tmp_path / "openapi.yaml"
    stale.write_text(openapi.text("yaml").replace("Hub API platform", "Something else"))
    monkeypatch.setattr(openapi, "FILE", stale)
    assert openapi.main(["--check"]) == 1
    assert openapi.main([]) == 0
    assert stale.read_text() == openapi.text("yaml")
    assert openapi.main(["--check"]) == 0


def test_the_generator_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "jupyter_hub_api.platform.openapi", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_control_route_is_documented_and_nothing_else():
    doc = yaml.safe_load(openapi.FILE.read_text())
    documented = {
        (path, method.upper())
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    # The gateway's paths (gateway.py is raw ASGI, not a control route).
    documented -= {
        ("/{user}/{api}", "GET"),
        ("/{user}/{api}", "POST"),
        ("/{user}/{api}/invocations/{invocation_id}", "GET"),
    }
    served = {
        (route.path, method)
        for route in Control(None, None).routes()
        for method in route.methods
        if method != "HEAD"
    }
    assert served == documented


def test_the_document_is_served_as_yaml_and_json(platform):
    resp = platform.control("GET", "/api/v1/openapi.yaml")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/yaml")
    as_yaml = yaml.safe_load(resp.text)
    assert as_yaml["info"]["title"] == "Hub API platform"
    resp = platform.control("GET", "/api/v1/openapi.json", token="not-needed")
    assert resp.status_code == 200
    assert json.loads(resp.text) == as_yaml == yaml.safe_load(openapi.FILE.read_text())
