"""server/openapi.yaml documents every route and verb the extension registers, and no other."""

from __future__ import annotations

import re
from pathlib import Path

import tornado.web
import yaml

import jupyter_hub_api.server as server
from jupyter_hub_api.server.base import NotFoundHandler
from jupyter_hub_api.server.extension import routes

VERBS = ("get", "post", "put", "patch", "delete")


def _spec() -> dict:
    return yaml.safe_load((Path(server.__file__).parent / "openapi.yaml").read_text())


def _openapi_path(pattern: str) -> str:
    path = pattern.removeprefix("/hub-api")
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", path)


def test_openapi_documents_every_route_and_verb():
    spec = _spec()
    assert spec["openapi"].startswith("3.")
    registered = {}
    for pattern, handler in routes():
        if handler is NotFoundHandler:
            continue  # every other path: a 404, documented in the file's description
        verbs = {
            v for v in VERBS if getattr(handler, v) is not getattr(tornado.web.RequestHandler, v)
        }
        registered[_openapi_path(pattern)] = verbs
    documented = {path: {v for v in item if v in VERBS} for path, item in spec["paths"].items()}
    assert documented == registered


def test_every_reference_in_the_openapi_file_resolves():
    spec = _spec()
    refs = re.findall(r"\$ref': '#/([^']+)'", str(spec))
    assert refs
    for ref in refs:
        node = spec
        for part in ref.split("/"):
            node = node[part]
