"""``/hub-api/platform/...``: the deployments panel's view of the platform, passed through.

Every route but the test console's ``invoke`` is a plain forward (:data:`PLATFORM_ROUTES`): the
extension's own auth first (``HubAPIHandler``: authenticated, then authorized), then the query
arguments and body fields the route declares, checked here with the platform's own bounds so
the answer is ours, then one request to the platform's ``/api/v1/...`` over the extension's one
platform session (``platform_session.py``). Only the declared path (its arguments one encoded
segment each), arguments and fields reach the platform, and only the platform's status and
JSON body come back: no header either way, so the platform token never reaches the browser.
The platform's errors keep their sentence; a platform that cannot be reached is a 503.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import httpx
from tornado import iostream, web

from ..client.api import (
    AsyncPlatformClient,
    _envelope,
    _gateway_call,
    _gateway_unreachable,
    api_endpoint,
    check_key,
    segment,
)
from ..errors import HubError, UsageError
from .base import MAX_INT, HubAPIHandler, body_field

T = TypeVar("T")

# Platform-client error types and the status the panel gets for them.
_STATUS_BY_TYPE = {
    "platform_unreachable": 503,
    "platform_down": 503,
    "platform_timeout": 504,
    "no_token": 503,
}

# The bodies forwarded (a rollback target, a key's name, a flag) are tiny.
MAX_FORWARDED_BODY = 64 * 1024

_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")

Reader = Callable[[HubAPIHandler], dict[str, Any]]
_REQUIRED = object()


@dataclass(frozen=True)
class Forward:
    """One verb of a route, forwarded to the platform's ``/api/v1`` + ``path``.

    ``path`` names the route's path arguments (``{name}``, ``{key_id}``); ``query`` and
    ``body`` read and check what is passed on (nothing else is); ``method`` is the platform's
    verb when it is not the route's; ``body_of`` makes the body from the path arguments;
    ``unhurried`` calls have no time limit (they wait for an API's running requests).
    """

    path: str
    query: Reader | None = None
    body: Reader | None = None
    method: str | None = None
    body_of: Callable[[dict[str, str]], dict] | None = None
    unhurried: bool = False


def whole_numbers(*specs: tuple[str, int, int, int | None]) -> Reader:
    """Query arguments ``(name, minimum, maximum, default)``: whole numbers within bounds; one
    without a default is passed on only when given."""

    def read(handler: HubAPIHandler) -> dict[str, Any]:
        return {
            name: handler.int_argument(name, default or 0, minimum=low, maximum=high)
            for name, low, high, default in specs
            if default is not None or handler.get_argument(name, None) is not None
        }

    return read


def fields(**specs: tuple[type | tuple[type, ...], Any, str]) -> Reader:
    """Body fields ``name=(types, default, what it must be)``; ``_REQUIRED`` as the default
    makes a field required."""

    def read(handler: HubAPIHandler) -> dict[str, Any]:
        body = handler.read_json()
        out = {}
        for name, (kinds, default, what) in specs.items():
            if default is _REQUIRED and name not in body:
                raise UsageError(f"Give '{name}': {what}.", type="bad_request")
            out[name] = body_field(body, name, kinds, default, what)
        return out

    return read


# -- ui (issue 11) --
def _runtime_body(handler: HubAPIHandler) -> dict[str, Any]:
    """The settings sent (numbers; the counts whole, ``1.0`` is 1); absent ones are left out."""
    body = handler.read_json()
    out: dict[str, Any] = {}
    for name in ("min_workers", "max_workers", "memory_mb", "idle_seconds", "timeout_seconds"):
        if name not in body:
            continue
        value = body[name]
        whole = name in ("min_workers", "max_workers", "memory_mb")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            what = "a whole number" if whole else "a number of seconds"
            raise UsageError(f"'{name}' must be {what}.", type="bad_request")
        if whole:
            if not float(value).is_integer():
                raise UsageError(f"'{name}' must be a whole number.", type="bad_request")
            value = int(value)
        out[name] = value
    return out


# -- end ui --


def _logs_query(handler: HubAPIHandler) -> dict[str, Any]:
    query = whole_numbers(
        ("tail", 0, 100_000, None), ("after", 0, MAX_INT, None), ("limit", 1, 5000, None)
    )(handler)
    invocation_id = handler.get_argument("invocation_id", None)
    if invocation_id:
        query["invocation_id"] = invocation_id
    return query


def _month_query(handler: HubAPIHandler) -> dict[str, Any]:
    month = handler.get_argument("month", None)
    if month is None:
        return {}
    if not _MONTH.fullmatch(month):
        raise UsageError(
            f"The month {month[:20]!r} is not a month; write it as 2026-11.", type="bad_argument"
        )
    return {"month": month}


class PlatformHandler(HubAPIHandler):
    """Talks to the platform through the extension's session, with its errors mapped to ours."""

    forwards: ClassVar[dict[str, Forward]] = {}

    async def call(self, fn: Callable[[AsyncPlatformClient], Awaitable[T]]) -> T:
        """``await fn(client)`` with the extension's client; platform errors get our statuses."""
        try:
            return await self.hub.platform.run(fn)
        except HubError as err:
            if err.type in _STATUS_BY_TYPE:
                err.status = _STATUS_BY_TYPE[err.type]
            elif err.status in (401, 403) and err.type not in ("forbidden",):
                # The platform refused the server's own token: not the browser user's doing.
                raise HubError(
                    f"The platform refused the Jupyter server's token: {err.message}",
                    type="platform_auth",
                    status=502,
                ) from None
            raise

    async def forward(self, verb: str, args: dict[str, str]) -> None:
        """Send the route's ``verb`` on to the platform and answer what it answered."""
        spec = self.forwards[verb]
        if verb in ("post", "patch", "put") and len(self.request.body or b"") > MAX_FORWARDED_BODY:
            raise HubError(
                f"The request body is larger than {MAX_FORWARDED_BODY // 1024} KiB; this "
                "endpoint takes a small JSON object.",
                type="body_too_large",
                status=413,
            )
        path = "/api/v1" + spec.path.format(**{k: segment(v) for k, v in args.items()})
        method = spec.method or verb.upper()
        kw: dict[str, Any] = {}
        if spec.query is not None:
            kw["params"] = spec.query(self)
        if spec.body is not None:
            kw["json"] = spec.body(self)
        elif spec.body_of is not None:
            kw["json"] = spec.body_of(args)
        elif method in ("POST", "PATCH"):
            kw["json"] = {}
        if spec.unhurried:
            kw["timeout"] = None
        status, body = await self.call(lambda client: client.send(method, path, **kw))
        self.write_json(body, status=status)


def forwarding(name: str, **verbs: Forward) -> type[PlatformHandler]:
    """A handler class whose verbs (``get=Forward(...)``...) are plain forwards."""

    def handler_of(verb: str):
        @web.authenticated
        async def handle(self: PlatformHandler, **args: str) -> None:
            await self.forward(verb, args)

        handle.__name__ = verb
        handle.__doc__ = f"``{verb.upper()}``: forwarded to the platform's {verbs[verb].path}."
        return handle

    doc = f"Forwards {', '.join(v.upper() for v in verbs)} to the platform."
    attrs = {"forwards": verbs, "__doc__": doc, **{v: handler_of(v) for v in verbs}}
    return type(name, (PlatformHandler,), attrs)


class InvokeHandler(PlatformHandler):
    """``POST {"method": "GET"|"POST", "body": <json>, "api_key" | "key_id" | "no_key": optional}``.

    Calls the API through the gateway exactly as any client does (``x-api-key``), with the
    given key, the key ``key_id``, no key at all (``no_key``: what a caller without a key gets),
    or the user's first enabled key; answers ``{"status",
    "body", "duration_ms", "endpoint"}`` where ``body`` is the API's envelope. The API's own
    error statuses are data here, not errors of this request. At most two control-plane calls
    (the key; the gateway's address is asked once per session), then the call itself.
    """

    @web.authenticated
    async def post(self, name: str) -> None:
        request = self.read_json()
        method = body_field(request, "method", str, "POST", "GET or POST")
        if method not in ("GET", "POST"):
            raise UsageError("'method' must be GET or POST.", type="bad_request")
        value = request.get("body", request.get("input"))
        payload = None if method == "GET" else json.dumps(value).encode()
        api_key = body_field(request, "api_key", str, None, "a string (the key)")
        key_id = body_field(request, "key_id", str, None, "a string (a key's id)")
        # ui (issue 11): the test console's "No key" choice
        # (true wins over api_key / key_id: the call is made without any key)
        no_key = body_field(request, "no_key", bool, False, "true or false")
        # console (issue 16.2): ask for the generator's outputs as Server-Sent Events
        stream = body_field(request, "stream", bool, False, "true or false")
        if stream and method != "POST":
            raise UsageError(
                "'stream' needs method POST: a GET calls no handler, so nothing streams.",
                type="stream_needs_post",
            )
        if api_key is not None:
            check_key(api_key)  # a 400 before the platform is asked anything
        segment(name)  # a name that cannot be one path segment is a 400 too
        timeout = self.hub.app.invoke_timeout
        session = self.hub.platform

        async def invoke(client: AsyncPlatformClient) -> dict:
            if no_key:
                key = None
            elif api_key:
                key = api_key
            else:
                key = await (client.reveal_key(key_id) if key_id else client.default_key())
            endpoint = api_endpoint(await session.me(client), name)
            if stream:
                return {"client": client, "key": key, "endpoint": endpoint}
            started = time.monotonic()
            status, envelope = await client.call_api(endpoint, key, payload, timeout=timeout)
            return {
                "status": status,
                "body": envelope,
                "duration_ms": round((time.monotonic() - started) * 1000, 2),
                "endpoint": endpoint,
            }

        answer = await self.call(invoke)
        if stream:
            await self._relay_stream(answer, payload, timeout)
        else:
            self.write_json(answer)

    # -- console (issue 16.2): a streamed call, relayed event by event --
    async def _relay_stream(self, target: dict, payload: bytes | None, timeout: float) -> None:
        """POST with ``Accept: text/event-stream`` and pass the gateway's events on as they come.

        The answer is the gateway's own event stream (``start``, one ``message`` per output,
        ``end`` or ``error``; ARCHITECTURE.md "Streaming"), each event flushed to the browser
        when it arrives. A refusal before the stream began (not a generator, 4xx, 429...) is
        the usual JSON ``{"status", "body", "duration_ms", "endpoint"}``. Only the body is
        relayed, never a header of the gateway's; a connection lost midway ends the stream
        with an ``error`` event of our own.
        """
        endpoint = target["endpoint"]
        call = _gateway_call(endpoint, target["key"], payload)
        call["headers"]["Accept"] = "text/event-stream"
        started = time.monotonic()
        streaming = False
        try:
            async with target["client"].http.stream(
                **call, timeout=httpx.Timeout(timeout, read=timeout)
            ) as resp:
                if not resp.headers.get("content-type", "").startswith("text/event-stream"):
                    await resp.aread()
                    status, envelope = _envelope(resp)
                    self.write_json(
                        {
                            "status": status,
                            "body": envelope,
                            "duration_ms": round((time.monotonic() - started) * 1000, 2),
                            "endpoint": endpoint,
                        }
                    )
                    return
                self.set_header("Content-Type", "text/event-stream; charset=utf-8")
                self.set_header("Cache-Control", "no-cache")
                self.set_header("X-Accel-Buffering", "no")  # a proxy in front must not buffer
                streaming = True
                async for chunk in resp.aiter_raw():
                    self.write(chunk)
                    await self.flush()
        except iostream.StreamClosedError:
            return  # the browser went away: leaving the block closed the gateway's stream
        except httpx.HTTPError as err:
            if not streaming:
                raise _gateway_unreachable(endpoint, err) from None
            lost = {
                "status": 502,
                "error": {
                    "type": "connection_lost",
                    "message": f"The stream from {endpoint} broke off ({type(err).__name__}).",
                },
            }
            try:
                self.write(f"event: error\ndata: {json.dumps(lost)}\n\n")
                await self.flush()
            except iostream.StreamClosedError:
                return

    # -- end console --


_API = r"(?P<name>[^/]+)"
_KEY = r"(?P<key_id>[^/]+)"

# (route under /hub-api/, handler), in the order they are matched.
PLATFORM_ROUTES: list[tuple[str, type[PlatformHandler]]] = [
    ("platform/me", forwarding("MeHandler", get=Forward("/me"))),
    ("platform/apis", forwarding("ApisHandler", get=Forward("/apis"))),
    (
        f"platform/apis/{_API}",
        forwarding(
            "ApiHandler",
            get=Forward("/apis/{name}"),
            delete=Forward("/apis/{name}", unhurried=True),
        ),
    ),
    (
        f"platform/apis/{_API}/versions",
        forwarding("VersionsHandler", get=Forward("/apis/{name}/versions")),
    ),
    (
        f"platform/apis/{_API}/rollback",
        forwarding(
            "RollbackHandler",
            post=Forward(
                "/apis/{name}/rollback",
                body=fields(version=((str, type(None)), None, "a string")),
                unhurried=True,
            ),
        ),
    ),
    # -- ui (issue 11): scaling and limits from the panel --
    (
        f"platform/apis/{_API}/runtime",
        forwarding(
            "RuntimeHandler",
            patch=Forward(
                "/apis/{name}/runtime",
                body=_runtime_body,
                unhurried=True,
            ),
        ),
    ),
    # -- end ui --
    (
        f"platform/apis/{_API}/invocations",
        forwarding(
            "InvocationsHandler",
            get=Forward("/apis/{name}/invocations", query=whole_numbers(("limit", 1, 1000, 50))),
        ),
    ),
    (
        f"platform/apis/{_API}/logs",
        forwarding("LogsHandler", get=Forward("/apis/{name}/logs", query=_logs_query)),
    ),
    (f"platform/apis/{_API}/invoke", InvokeHandler),
    ("platform/usage", forwarding("UsageHandler", get=Forward("/usage", query=_month_query))),
    (
        "platform/keys",
        forwarding(
            "KeysHandler",
            get=Forward("/keys"),
            # "key" is the platform's own default name.
            post=Forward("/keys", body=fields(name=(str, "key", "a string"))),
        ),
    ),
    (
        f"platform/keys/{_KEY}",
        forwarding(
            "KeyHandler",
            patch=Forward(
                "/keys/{key_id}", body=fields(enabled=(bool, _REQUIRED, "true or false"))
            ),
            delete=Forward("/keys/{key_id}"),
        ),
    ),
    (
        f"platform/keys/{_KEY}/reveal",
        forwarding("KeyRevealHandler", post=Forward("/keys/{key_id}/reveal")),
    ),
    (
        f"platform/keys/{_KEY}/(?P<action>enable|disable)",
        forwarding(
            "KeyStateHandler",
            post=Forward(
                "/keys/{key_id}",
                method="PATCH",
                body_of=lambda args: {"enabled": args["action"] == "enable"},
            ),
        ),
    ),
]


# -- plans and admin (plans helper): the caller's plan, and the admin view's operations --------


def _given(**specs: tuple[type | tuple[type, ...], str]) -> Reader:
    """Body fields ``name=(types, what it must be)`` passed on only when the body has them (a
    plan change sends only what changes; ``null`` is a value there: "no limit")."""

    def read(handler: HubAPIHandler) -> dict[str, Any]:
        body = handler.read_json()
        unknown = sorted(set(body) - set(specs))
        if unknown:
            raise UsageError(
                f"The body has unknown field(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(specs))}.",
                type="bad_request",
            )
        out = {}
        for name, (kinds, what) in specs.items():
            if name not in body:
                continue
            value = body[name]
            whole = kinds is int or (isinstance(kinds, tuple) and int in kinds)
            if whole and isinstance(value, float) and value.is_integer():
                body[name] = int(value)  # 7501.0 is JSON's 7501
            out[name] = body_field(body, name, kinds, None, what)
        return out

    return read


_LIMIT = ((int, type(None)), "a whole number or null (no limit)")
_RATE = ((int, float, type(None)), "a number or null (no limit)")
_PLAN_LIMITS = _given(
    monthly_calls=_LIMIT,
    max_apis=_LIMIT,
    rate_limit_per_second=_RATE,
    rate_limit_burst=(int, "a whole number"),
)


def _user_query(handler: HubAPIHandler) -> dict[str, Any]:
    user = handler.get_argument("user", None)
    return {"user": user} if user else {}


PLATFORM_ROUTES += [
    (
        "platform/plan",
        forwarding("PlanHandler", get=Forward("/plan"), patch=Forward("/plan", body=_PLAN_LIMITS)),
    ),
    ("platform/admin/users", forwarding("AdminUsersHandler", get=Forward("/admin/users"))),
    (
        r"platform/admin/users/(?P<user>[^/]+)",
        forwarding(
            "AdminUserHandler",
            patch=Forward(
                "/admin/users/{user}",
                body=_given(
                    plan=((str, type(None)), "a plan name or null"),
                    groups=(list, "a list of group names"),
                    is_admin=(bool, "true or false"),
                    disabled=(bool, "true or false"),
                ),
            ),
        ),
    ),
    ("platform/admin/plans", forwarding("AdminPlansHandler", get=Forward("/admin/plans"))),
    (
        r"platform/admin/plans/(?P<plan>[^/]+)",
        forwarding("AdminPlanHandler", put=Forward("/admin/plans/{plan}", body=_PLAN_LIMITS)),
    ),
    ("platform/admin/groups", forwarding("AdminGroupsHandler", get=Forward("/admin/groups"))),
    (
        r"platform/admin/groups/(?P<group>[^/]+)",
        forwarding(
            "AdminGroupHandler",
            put=Forward(
                "/admin/groups/{group}",
                body=_given(
                    plan=((str, type(None)), "a plan name or null"),
                    members=(list, "a list of user names"),
                ),
            ),
        ),
    ),
    (
        "platform/admin/apis",
        forwarding("AdminApisHandler", get=Forward("/admin/apis", query=_user_query)),
    ),
    (
        r"platform/admin/apis/(?P<user>[^/]+)/(?P<name>[^/]+)",
        forwarding("AdminApiHandler", get=Forward("/admin/apis/{user}/{name}")),
    ),
]
# -- end plans and admin --
