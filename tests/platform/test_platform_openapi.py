"""The OpenAPI document describes exactly the routes the platform serves."""

from __future__ import annotations

from pathlib import Path

import yaml

from jupyter_hub_api.platform.control import Control

DOC = Path(__file__).parents[2] / "jupyter_hub_api" / "platform" / "openapi.yaml"


def test_every_control_route_is_documented_and_nothing_else():
    doc = yaml.safe_load(DOC.read_text())
    documented = {
        (path, method.upper())
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    documented.discard(("/{user}/{api}", "GET"))
    documented.discard(("/{user}/{api}", "POST"))
    served = {
        (route.path, method)
        for route in Control(None, None).routes()
        for method in route.methods
        if method != "HEAD"
    }
    served.discard(("/api/v1/openapi.yaml", "GET"))
    assert served == documented


def test_the_document_is_served(platform):
    resp = platform.control("GET", "/api/v1/openapi.yaml")
    assert resp.status_code == 200
    assert yaml.safe_load(resp.text)["info"]["title"] == "Hub API platform"
