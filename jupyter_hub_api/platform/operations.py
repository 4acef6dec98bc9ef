"""An operation of the control plane: a method and path, its models, and the handler behind it.

:class:`Op` is the single description of a route: :func:`endpoints` turns the operations into
Starlette endpoints (authenticate, validate the query and the JSON body with their models, run
the handler, answer with its model as JSON) and ``openapi.py`` turns the same operations into
the OpenAPI document. A handler takes one :class:`Call` and returns a response model (sent with
the operation's ``status``) or a Starlette ``Response`` (a stream, another status).

Every refusal is ``{"error": {"type", "message"}}`` with one sentence saying what was wrong: a
:class:`~jupyter_hub_api.errors.HubError` raised by a handler, or a bad query or body value
(:func:`refusal`). Bodies are RFC 8259 JSON (``strictjson``) whatever their ``Content-Type``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import HubError, UsageError
from . import strictjson
from .schemas import Request


@dataclass
class Call:
    """One request as a handler sees it: the caller, the validated query and body."""

    request: HttpRequest
    user: Any  # service.User; None for the public operations
    query: Any = None
    body: Any = None

    def param(self, name: str) -> str:
        """A path parameter."""
        return self.request.path_params[name]


@dataclass(frozen=True)
class Op:
    """One operation: ``method path`` -> ``run(call)``, described by its models."""

    method: str
    path: str
    run: Callable[[Call], Awaitable[Any]]
    answer: type[BaseModel] | None = None
    status: int = 200
    query: type[Request] | None = None
    body: type[Request] | None = None
    body_required: bool = True
    # status -> description of the refusals the operation may answer (None: the usual words);
    # 401 (authenticated operations) and 400 (those with a query or a body) are implied.
    errors: Mapping[int, str | None] = field(default_factory=dict)
    # other answers than `answer`: status -> (description, model or None)
    also: Mapping[int, tuple[str, type[BaseModel] | None]] = field(default_factory=dict)
    public: bool = False  # no token needed
    media: str = "application/json"  # of the answer (a document served as YAML says so)
    stream: type[BaseModel] | None = None  # items of an NDJSON answer the query may ask for
    upload: str | None = None  # media type of a raw (not JSON) request body

    @property
    def summary(self) -> str:
        first = (self.run.__doc__ or "").strip().splitlines()[0]
        return first.rstrip(".").replace("``", "`")


Authenticate = Callable[[HttpRequest], Awaitable[Any]]


def endpoints(ops: list[Op], authenticate: Authenticate) -> list[Route]:
    """One Starlette route per path, whatever its methods (so a 405 lists them all in
    ``Allow``; HEAD is answered wherever GET is, without the body)."""
    by_path: dict[str, dict[str, Callable]] = {}
    for op in ops:
        by_path.setdefault(op.path, {})[op.method] = _endpoint(op, authenticate)
    return [Route(path, _by_method(fns), methods=list(fns)) for path, fns in by_path.items()]


def _endpoint(op: Op, authenticate: Authenticate):
    async def endpoint(request: HttpRequest) -> Response:
        try:
            call = Call(request, None if op.public else await authenticate(request))
            if op.query is not None:
                call.query = _validate(op.query, dict(request.query_params), "query")
            if op.body is not None:
                raw = await _json_object(request, op.body_required)
                call.body = _validate(op.body, raw, "body")
            result = await op.run(call)
        except HubError as err:
            return error_response(err)
        if isinstance(result, Response):
            return result
        return Response(result.model_dump_json(), op.status, media_type="application/json")

    endpoint.__name__ = op.run.__name__
    return endpoint


def _by_method(fns: dict[str, Callable]):
    """One endpoint for the methods of a path (HEAD runs GET; the server drops the body)."""
    if len(fns) == 1:
        return next(iter(fns.values()))

    async def endpoint(request: HttpRequest) -> Response:
        return await fns["GET" if request.method == "HEAD" else request.method](request)

    return endpoint


def error_response(err: HubError) -> JSONResponse:
    """The control plane's one error shape."""
    return JSONResponse({"error": err.to_dict()}, status_code=err.status)


async def http_error(request: HttpRequest, exc) -> Response:
    """Starlette's own refusals (no such path, a method the path does not serve) as JSON."""
    if exc.status_code == 405:
        allowed = exc.headers.get("Allow", "") if exc.headers else ""
        err = HubError(
            f"{request.method} is not supported here; this path answers {allowed}.",
            type="method_not_allowed",
            status=405,
        )
    elif exc.status_code == 404:
        err = HubError(
            f"There is no control-plane route {request.url.path!r}; see /api/v1/openapi.yaml.",
            type="not_found",
            status=404,
        )
    else:
        err = HubError(str(exc.detail), type="bad_request", status=exc.status_code)
    return JSONResponse({"error": err.to_dict()}, status_code=err.status, headers=exc.headers)


async def _json_object(request: HttpRequest, required: bool) -> dict:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise UsageError("The request needs a JSON object body.", type="bad_json")
        return {}
    try:
        body = strictjson.loads(raw)
    except strictjson.NotJSON as err:
        raise UsageError(f"The request body is not valid JSON ({err}).", type="bad_json") from None
    if not isinstance(body, dict):
        raise UsageError("The request body must be a JSON object.", type="bad_json")
    return body


def _validate(model: type[Request], data: dict, where: str):
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise refusal(model, err, where) from None


# pydantic's error type -> how the sentence about the value goes on
_PHRASES = {
    "missing": "is required",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a JSON object",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "string_pattern_mismatch": "must match {pattern}",
    "extra_forbidden": "is not a field of this request",
    "list_type": "must be a JSON list",
}


def refusal(model: type[Request], err: ValidationError, where: str) -> UsageError:
    """The one-sentence error of the first thing ``err`` found wrong in a query or a body."""
    first = err.errors(include_url=False)[0]
    name = str(first["loc"][0]) if first["loc"] else where
    field_name = name if where == "body" else None
    if name in model.refusals:
        type_, message = model.refusals[name]
        return UsageError(message, type=type_, field=field_name)
    phrase = _PHRASES.get(first["type"])
    phrase = (
        phrase.format(**first.get("ctx", {}))
        if phrase
        else "is not valid: " + first["msg"][:1].lower() + first["msg"][1:]
    )
    what = f"The query parameter {name}" if where == "query" else f"The body's {name!r}"
    return UsageError(f"{what} {phrase}.", type="bad_request", field=field_name)
