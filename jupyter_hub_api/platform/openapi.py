"""The platform's OpenAPI document, generated from the code: the control plane's operations
(``Control.operations``) and models (``schemas.py``), plus the gateway's paths.

``python -m jupyter_hub_api.platform.openapi`` writes it to ``openapi.yaml`` beside this file
(checked in; a test fails when it differs from what the code generates; ``--check`` says so
without writing). The platform serves the same document at ``/api/v1/openapi.yaml`` and
``/api/v1/openapi.json``; ``jlpm gen:types`` makes ``src/api/`` types from the file.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.responses import Response

from ..project.names import API_NAME_RE
from . import schemas as s
from .operations import Call, Op

FILE = Path(__file__).with_name("openapi.yaml")
HEADER = "# Generated from the code by `python -m jupyter_hub_api.platform.openapi`: do not edit.\n"
_REF = "#/components/schemas/{model}"

DESCRIPTION = """\
The platform that serves Hub APIs: the data plane (the gateway, `/{user}/{api}`, the wire format
of the hosted guide) and the control plane (`/api/v1/...`) used by the `hub` CLI and, through the
Jupyter server extension, by the JupyterLab deployments panel.

Control-plane requests carry `Authorization: Bearer <token>`. The embedded platform writes its
local user's token to `$HUB_HOME/platform/token` (mode 0600) on first start; a shared platform's
administrator creates users with `POST /api/v1/users`. Control-plane errors are
`{"error": {"type", "message"}}` with the HTTP status of the problem; a method a path does not
serve is a 405 whose `Allow` header lists those it does; HEAD works wherever GET does. Bodies are
RFC 8259 JSON (no NaN or Infinity, no number beyond a double), whatever their Content-Type.

Gateway requests carry `x-api-key`. Every gateway answer, success or error, is the envelope
`{"statusCode": n, "body": {...}}` with the HTTP status equal to `statusCode`.

What counts against the monthly quota: a POST the handler answered (it returned: 200, or it
raised: 500). Refusals (4xx), crashes (502) and timeouts (504) are not counted. A counted call is
committed to the database before its answer is sent.

Past the platform's connection cap every path answers 503 `too_many_connections` (with
Retry-After); a request whose headers or body did not arrive in time is a 408
`request_timeout`, headers over 64 KiB a 431 `headers_too_large`, and a request that is not
HTTP/1.1 a 400 `bad_request`; on the gateway's paths these come in its envelope.
"""

PATH_PARAMETERS: dict[str, dict] = {
    "name": {"type": "string", "pattern": API_NAME_RE.pattern},
    "key_id": {"type": "string", "examples": ["key_3f2a9c1b0d4e"]},
    "dep_id": {"type": "string"},
    "sha": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    # The gateway answers any path segment (a CORS preflight gets 204 whatever it names).
    "user": {"type": "string"},
    "api": {"type": "string"},
    "invocation_id": {"type": "string", "examples": ["3f2a9c1b0d4e5a6b00000001"]},
    # plans: the admin operations' plan and group names
    "plan": {"type": "string", "pattern": r"^[a-z][a-z0-9_-]{0,39}$"},
    "group": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"},
}
USUAL = {
    400: "a parameter or the body is not what the operation takes (the message says which)",
    401: "no `Authorization: Bearer` token, or one the platform does not accept",
}


def document() -> dict:
    """The OpenAPI document of the platform, from its code."""
    from .control import Control  # the control plane serves this document

    # Through JSON: plain data with no shared objects (YAML would write those as anchors).
    return json.loads(json.dumps(build(Control(None, None).operations())))


def build(ops: list[Op]) -> dict:
    """The document of ``ops`` and the gateway."""
    models: list[tuple[type[BaseModel], str]] = [(s.Error, "serialization")]
    for op in ops:
        models += [(m, "serialization") for m in (op.answer, op.stream) if m]
        models += [(m, "serialization") for _, m in op.also.values() if m]
        if op.body:
            models.append((op.body, "validation"))
    models.append((s.Envelope, "serialization"))
    refs, defs = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)

    def ref(model: type[BaseModel], mode: str = "serialization") -> dict:
        return refs[(model, mode)]

    def json_content(schema: dict) -> dict:
        return {"application/json": {"schema": schema}}

    error = {"content": json_content(ref(s.Error))}
    paths: dict[str, dict] = {}
    for op in ops:
        operation: dict[str, Any] = {"operationId": op.run.__name__, "summary": op.summary}
        if op.public:
            operation["security"] = []
        parameters = [_path_parameter(p) for p in _names_in(op.path)]
        parameters += _query_parameters(op.query) if op.query else []
        if parameters:
            operation["parameters"] = parameters
        if op.body:
            operation["requestBody"] = {
                "required": op.body_required,
                "content": json_content(ref(op.body, "validation")),
            }
        elif op.upload:
            binary = {"type": "string", "format": "binary"}
            operation["requestBody"] = {
                "required": True,
                "content": {op.upload: {"schema": binary}},
            }
        answer: dict[str, Any] = {"description": "ok"}
        if op.answer:
            answer["content"] = json_content(ref(op.answer))
            if op.stream:
                answer["description"] = (
                    "the answer; with follow=true a stream of NDJSON objects instead (blank "
                    "lines are keep-alives)"
                )
                answer["content"]["application/x-ndjson"] = {"schema": ref(op.stream)}
        else:
            answer["content"] = {op.media: {"schema": {"type": "object"}}}
        responses: dict[int, dict] = {op.status: answer}
        for status, (description, model) in op.also.items():
            responses[status] = {"description": description}
            if model:
                responses[status]["content"] = json_content(ref(model))
        refusals = dict(op.errors)
        if op.query or op.body or op.upload:
            refusals.setdefault(400, None)
        if not op.public:
            refusals.setdefault(401, None)
        for status, description in refusals.items():
            responses[status] = {"description": description or USUAL[status], **error}
        operation["responses"] = {str(k): responses[k] for k in sorted(responses)}
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    paths["/{user}/{api}"] = _gateway(ref(s.Envelope))
    paths["/{user}/{api}/invocations/{invocation_id}"] = _async_result(ref(s.Envelope))
    schemas = _tidy(defs.get("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hub API platform", "version": "1", "description": DESCRIPTION},
        "servers": [
            {
                "url": "http://127.0.0.1:8470",
                "description": "the embedded platform (HUB_PLATFORM_URL)",
            }
        ],
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the control-plane token of a user",
                },
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "an API key of the API's owner (`hub keys`)",
                },
            },
            "schemas": dict(sorted(schemas.items())),
        },
    }


def _names_in(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _path_parameter(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    schema = _tidy(model.model_json_schema(ref_template=_REF))
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        # A query value is never null: an optional one is left out.
        options = [p for p in prop.pop("anyOf", []) if p.get("type") != "null"]
        if options:
            prop.update(options[0])
        if prop.get("default", 0) is None:
            del prop["default"]
        param = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            param["description"] = prop.pop("description")
        out.append({**param, "schema": prop})
    return out


def _tidy(schema):
    """The schema without pydantic's titles (the names say it), recursively."""
    if isinstance(schema, list):
        return [_tidy(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs"):
            out[key] = {name: _tidy(sub) for name, sub in value.items()}
        else:
            out[key] = _tidy(value)
    return out


def _gateway(envelope: dict) -> dict:
    """The gateway's operations (``gateway.py`` is raw ASGI; its answers are ``Envelope``)."""

    def answer(description: str, **extra) -> dict:
        return {
            "description": description,
            "content": {"application/json": {"schema": envelope}},
            **extra,
        }

    refusals = {
        "400": answer(
            "the body is not RFC 8259 JSON (NaN, Infinity, numbers beyond a double and nesting "
            "past the platform's limit are refused), or the request has two x-api-key headers"
        ),
        "401": answer("no x-api-key header"),
        "403": answer("unknown or disabled key, or another user's key"),
        "404": answer("no such API"),
        "429": answer(
            "monthly quota used up or per-key rate limit; see Retry-After (seconds)",
            headers={"Retry-After": {"schema": {"type": "integer"}}},
        ),
        "503": answer("the API is switching versions (retry)"),
    }
    return {
        "parameters": [_path_parameter("user"), _path_parameter("api")],
        "get": {
            "operationId": "load",
            "summary": "Load (wake) the API and wait until it is ready (HEAD: the same, no body)",
            "security": [{"apiKey": []}],
            "responses": {
                "200": answer("ready: the API's status, version and load times"),
                **refusals,
                "500": answer("the API could not be loaded (LoadError)"),
            },
        },
        "post": {
            "operationId": "invoke",
            "summary": "Call the handler with a JSON body",
            "description": (
                "Synchronous by default: the answer is the handler's output. With "
                "`Accept: text/event-stream` a generator handler's outputs come as Server-Sent "
                "Events (`start`, one `data` event per output, `end` or `error`). With "
                "`Prefer: respond-async` (RFC 7240) the call is accepted after the same checks "
                "and answered 202 at once, with `Location` (and `body.url`) naming "
                "`/{user}/{api}/invocations/{invocation_id}`, where its result is kept for "
                "`async.retention_days`; it runs for up to the API's `async_timeout_seconds`. "
                "`Hub-Callback-Url: https://...` also POSTs the result there when it is done, "
                'signed in `Hub-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" '
                "keyed with the API key>`; a callback URL that is not http(s), has credentials "
                "or resolves to a private, loopback or link-local address is a 400."
            ),
            "security": [{"apiKey": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"description": "any JSON value"},
                        "example": "Deployment is so simple and quick!",
                    }
                },
            },
            "responses": {
                "200": answer("the handler's output (`output`) and `invocation_id`"),
                "202": answer(
                    "accepted for later (`Prefer: respond-async`): `invocation_id`, "
                    "`status` queued and `url`, also in `Location`",
                    headers={
                        "Location": {"schema": {"type": "string"}},
                        "Preference-Applied": {"schema": {"const": "respond-async"}},
                    },
                ),
                **refusals,
                "413": answer("body over the API's max_body_bytes"),
                "500": answer("the handler raised (message only; the traceback is in the logs)"),
                "502": answer("the worker died"),
                "504": answer("the handler ran past its timeout"),
            },
        },
        "options": {
            "operationId": "preflight",
            "summary": "CORS preflight (browsers)",
            "security": [],
            "responses": {"204": {"description": "allowed origins, methods and headers"}},
        },
    }


def _async_result(envelope: dict) -> dict:
    """``GET /{user}/{api}/invocations/{invocation_id}``: an asynchronous call's state or
    result (``async_invocations.py``)."""

    def answer(description: str) -> dict:
        return {"description": description, "content": {"application/json": {"schema": envelope}}}

    return {
        "parameters": [
            _path_parameter("user"),
            _path_parameter("api"),
            _path_parameter("invocation_id"),
        ],
        "get": {
            "operationId": "get_async_invocation",
            "summary": "The state of an asynchronous call, then its result (HEAD: no body)",
            "description": (
                "While it runs: 200 with `body.status` queued or running. Once done: the "
                "envelope the synchronous call would have answered, with its status as the HTTP "
                "status and `body.status` succeeded or failed. Only a key of the API's owner "
                "reads it."
            ),
            "security": [{"apiKey": []}],
            "responses": {
                "200": answer("queued or running; or succeeded, with `output` and `invocation_id`"),
                "400": answer("two x-api-key headers"),
                "401": answer("no x-api-key header"),
                "403": answer("unknown or disabled key, or another user's key"),
                "404": answer("no such invocation of this API (or kept past its retention)"),
                "500": answer("failed: the handler raised"),
                "502": answer("failed: the worker died, or the platform stopped while it ran"),
                "504": answer("failed: the call ran past `async_timeout_seconds`"),
                "507": answer("failed: its output was over `async.max_output_bytes` (not kept)"),
            },
        },
    }


@functools.cache
def text(kind: str = "yaml") -> str:
    """The document as YAML (with the header of the checked-in file) or JSON."""
    doc = document()
    if kind == "json":
        return json.dumps(doc, indent=1, ensure_ascii=False)
    return HEADER + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class _Dumper(yaml.SafeDumper):
    """YAML with the document's longer texts as literal blocks (``|``), as a person writes them."""


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


async def serve_yaml(call: Call) -> Response:
    """This API's OpenAPI document (YAML)."""
    return Response(text("yaml"), media_type="application/yaml")


async def serve_json(call: Call) -> Response:
    """This API's OpenAPI document (JSON)."""
    return Response(text("json"), media_type="application/json")


def main(argv: list[str]) -> int:
    """Write the document to :data:`FILE` (``--check``: only say whether it is current)."""
    current = FILE.read_text() if FILE.exists() else ""
    if "--check" in argv:
        if current != text():
            print(f"{FILE} is not what the code generates: run python -m {__spec__.name}.")
            return 1
        return 0
    if current != text():
        FILE.write_text(text())
        print(f"wrote {FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
