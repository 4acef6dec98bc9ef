"""The control plane: ``/api/v1/...`` (REST, JSON), documented in ``openapi.yaml``.

Every route but the health checks needs ``Authorization: Bearer <token>``; the token names the
user, and a user only ever sees and changes their own APIs and keys. Errors are
``{"error": {"type", "message"}}`` with the HTTP status of the :class:`HubError` raised.
"""

from __future__ import annotations

import asyncio
import errno
import json
import math
import os
import re
import signal
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import __version__
from ..client.embedded import instance_id
from ..errors import HubError, UsageError
from ..project.names import check_name
from . import strictjson
from .deploy import Deployer
from .service import Platform, User, now_iso
from .usage import latency_summary, list_invocations, usage_by_api

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_KEY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
_MONTH_RE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class Control:
    """The control-plane routes over a :class:`Platform` and its :class:`Deployer`."""

    def __init__(self, platform: Platform, deployer: Deployer) -> None:
        self.platform = platform
        self.deployer = deployer

    def routes(self) -> list[Route]:
        """The Starlette routes of the control plane: one per path, whatever its methods (so a
        405 lists them all in ``Allow``; HEAD is answered wherever GET is)."""
        h = _handler
        table = {
            "/healthz": {"GET": self.healthz},
            "/readyz": {"GET": self.readyz},
            "/api/v1/openapi.yaml": {"GET": self.openapi},
            "/api/v1/me": {"GET": h(self.me)},
            "/api/v1/apis": {"GET": h(self.list_apis)},
            "/api/v1/apis/{name}": {"GET": h(self.get_api), "DELETE": h(self.delete_api)},
            "/api/v1/apis/{name}/versions": {"GET": h(self.versions)},
            "/api/v1/apis/{name}/rollback": {"POST": h(self.rollback)},
            "/api/v1/apis/{name}/invocations": {"GET": h(self.invocations)},
            "/api/v1/apis/{name}/logs": {"GET": h(self.logs)},
            "/api/v1/usage": {"GET": h(self.usage)},
            "/api/v1/keys": {"GET": h(self.list_keys), "POST": h(self.create_key)},
            "/api/v1/keys/{key_id}": {"PATCH": h(self.update_key), "DELETE": h(self.delete_key)},
            "/api/v1/keys/{key_id}/reveal": {"POST": h(self.reveal_key)},
            "/api/v1/deployments": {"POST": h(self.create_deployment)},
            "/api/v1/deployments/{dep_id}": {"GET": h(self.get_deployment)},
            "/api/v1/deployments/{dep_id}/commit": {"POST": h(self.commit_deployment)},
            "/api/v1/blobs/{sha}": {"PUT": h(self.put_blob)},
            "/api/v1/users": {"POST": h(self.create_user)},
            "/api/v1/shutdown": {"POST": h(self.shutdown)},
        }
        return [Route(path, _by_method(fns), methods=list(fns)) for path, fns in table.items()]

    # -- health -------------------------------------------------------------------------------
    async def healthz(self, request: Request) -> Response:
        """Liveness: the process answers. ``service`` tells a client it reached a Hub platform."""
        return JSONResponse(
            {
                "status": "ok",
                "service": "hub-platform",
                "version": __version__,
                "instance": instance_id(self.platform.state_dir),
            }
        )

    async def readyz(self, request: Request) -> Response:
        """Readiness: state open, engine started, APIs loaded."""
        if not self.platform.ready:
            return JSONResponse({"status": "starting", "service": "hub-platform"}, status_code=503)
        return JSONResponse({"status": "ready", "service": "hub-platform", "version": __version__})

    async def openapi(self, request: Request) -> Response:
        """This API's OpenAPI document."""
        text = (Path(__file__).parent / "openapi.yaml").read_text()
        return Response(text, media_type="application/yaml")

    # -- account ------------------------------------------------------------------------------
    async def me(self, request: Request, user: User) -> dict:
        """The caller, their plan and this month's count."""
        month = self.platform.month()
        return {
            "user": user.name,
            "plan": user.plan.to_dict(),
            "month": month,
            "calls_this_month": self.platform.quota.used(user.id, month),
            "gateway_url": self._base(request),
        }

    # -- APIs ---------------------------------------------------------------------------------
    async def list_apis(self, request: Request, user: User) -> dict:
        """Every API of the caller with its status, live version, usage and latency."""
        month = self.platform.month()
        usage = usage_by_api(self.platform.db, user.id, month)
        apis = [
            self._summary(request, route, usage, month)
            for route in sorted(self.platform.routes.of_user(user.name), key=lambda r: r.name)
        ]
        return {"apis": apis, "quota": self._quota(user, month)}

    async def get_api(self, request: Request, user: User) -> dict:
        """One API, as in the list."""
        route = self.deployer.route_of(user, request.path_params["name"])
        month = self.platform.month()
        summary = self._summary(
            request, route, usage_by_api(self.platform.db, user.id, month), month
        )
        summary["quota"] = self._quota(user, month)
        return summary

    async def delete_api(self, request: Request, user: User) -> dict:
        """Stop and remove an API."""
        return await self.deployer.delete(user, request.path_params["name"])

    async def versions(self, request: Request, user: User) -> dict:
        """The versions of an API, newest first."""
        route = self.deployer.route_of(user, request.path_params["name"])
        rows = self.platform.db.query(
            "SELECT id, seq, build_id, version, status, error, created_at, deployed_at"
            " FROM versions WHERE api_id = ? ORDER BY seq DESC",
            (route.api_id,),
        )
        live_id = route.live.id if route.live else None
        items = []
        for r in rows:
            item = {k: r[k] for k in r.keys() if k != "id"}
            item["version_number"] = item.pop("seq")
            item["live"] = r["id"] == live_id
            items.append(item)
        return {"api": route.name, "versions": items}

    async def rollback(self, request: Request, user: User) -> dict:
        """Make an earlier version live (body ``{"version": n|label|build id}``, default previous)."""
        body = await _json_body(request, required=False)
        target = body.get("version")
        return await self.deployer.rollback(
            user, request.path_params["name"], None if target in (None, "") else str(target)
        )

    async def invocations(self, request: Request, user: User) -> dict:
        """The invocation history of an API, newest first (``limit``, ``before`` to page)."""
        route = self.deployer.route_of(user, request.path_params["name"])
        limit = _int_param(request, "limit", 50, 1, 1000)
        before_ts = _number_param(request, "before", "a timestamp in seconds")
        items = await anyio.to_thread.run_sync(
            lambda: list_invocations(self.platform.db, route.api_id, limit, before_ts)
        )
        return {"api": route.name, "invocations": items}

    async def logs(self, request: Request, user: User):
        """What the handler printed: ``after`` (line id), ``tail``, ``invocation_id``, ``follow``."""
        route = self.deployer.route_of(user, request.path_params["name"])
        sink = self.platform.logs
        after = _int_param(request, "after", 0, 0, None)
        limit = _int_param(request, "limit", 500, 1, 5000)
        tail = _int_param(request, "tail", None, 0, 100000)
        invocation_id = request.query_params.get("invocation_id") or None
        if tail is not None and "after" not in request.query_params:
            after = sink.tail(route.api_id, tail)
        if not _bool_param(request, "follow"):
            lines = sink.read(route.api_id, after, limit, invocation_id)
            nxt = lines[-1]["id"] if lines else after
            return {"api": route.name, "lines": lines, "next": nxt}
        return StreamingResponse(
            self._follow(request, route, after, invocation_id), media_type="application/x-ndjson"
        )

    async def _follow(self, request: Request, route, after: int, invocation_id: str | None):
        sink = self.platform.logs
        while True:
            lines = sink.read(route.api_id, after, 500, invocation_id)
            for line in lines:
                yield json.dumps(line) + "\n"
            if lines:
                after = lines[-1]["id"]
                continue
            if (
                await request.is_disconnected()
                or self.platform.routes.get(route.user, route.name) is None
            ):
                return
            await sink.wait_for_new(timeout=10.0)
            if not lines:
                yield "\n"  # a keep-alive blank line: lets the client notice the stream is alive

    async def usage(self, request: Request, user: User) -> dict:
        """Calls per API this month (or ``month=YYYY-MM``) against the quota, errors, latency."""
        month = request.query_params.get("month", self.platform.month())
        if not _MONTH_RE.match(month):
            raise UsageError("month must be a year and a month, like 2026-11.", type="bad_request")
        per_api = usage_by_api(self.platform.db, user.id, month)
        items = []
        for api_name, counts in per_api.items():
            route = self.platform.routes.get(user.name, api_name)
            latency = (
                latency_summary(self.platform.db, route.api_id, month)
                if route
                else {"p50_ms": None, "p95_ms": None, "p99_ms": None, "sampled": 0}
            )
            items.append({"api": api_name, "deleted": route is None, **counts, **latency})
        for route in self.platform.routes.of_user(user.name):
            if route.name not in per_api:
                items.append(
                    {
                        "api": route.name,
                        "deleted": False,
                        "calls": 0,
                        "errors": 0,
                        "failures": 0,
                        "p50_ms": None,
                        "p95_ms": None,
                        "p99_ms": None,
                        "sampled": 0,
                    }
                )
        items.sort(key=lambda i: i["api"])
        total = sum(i["calls"] for i in items)
        return {
            "month": month,
            "apis": items,
            "total_calls": total,
            "quota": self._quota(user, month, total),
        }

    # -- keys ---------------------------------------------------------------------------------
    async def list_keys(self, request: Request, user: User) -> dict:
        """The caller's keys, masked."""
        return {"keys": self.platform.keys.list(user.id)}

    async def create_key(self, request: Request, user: User):
        """A new key; the answer holds the key in full (``secret``)."""
        body = await _json_body(request, required=False)
        name = body.get("name", "key")
        if not isinstance(name, str) or not _KEY_NAME_RE.match(name):
            raise UsageError(
                "A key name has 1-64 letters, digits, spaces, '.', '_' or '-'.",
                type="bad_name",
                field="name",
            )
        key, secret = await self.platform.keys.create(user.id, name, now_iso())
        return JSONResponse({"key": key, "secret": secret}, status_code=201)

    async def reveal_key(self, request: Request, user: User) -> dict:
        """One of the caller's keys in full."""
        key_id = request.path_params["key_id"]
        secret = self.platform.keys.reveal(user.id, key_id)
        if secret is None:
            raise _no_key(key_id)
        return {"id": key_id, "secret": secret}

    async def update_key(self, request: Request, user: User) -> dict:
        """Enable or disable a key (body ``{"enabled": bool}``)."""
        key_id = request.path_params["key_id"]
        body = await _json_body(request)
        if not isinstance(body.get("enabled"), bool):
            raise UsageError(
                'Send {"enabled": true} or {"enabled": false}.', type="bad_request", field="enabled"
            )
        if not await self.platform.keys.set_enabled(user.id, key_id, body["enabled"]):
            raise _no_key(key_id)
        return {"key": self.platform.keys.get(user.id, key_id)}

    async def delete_key(self, request: Request, user: User) -> dict:
        """Delete a key for good."""
        key_id = request.path_params["key_id"]
        if not await self.platform.keys.delete(user.id, key_id):
            raise _no_key(key_id)
        self.platform.limiter.forget(key_id)
        return {"id": key_id, "deleted": True}

    # -- deployments --------------------------------------------------------------------------
    async def create_deployment(self, request: Request, user: User):
        """Step 1 of a deploy: the record in, the missing blobs out."""
        body = await _json_body(request)
        dep, missing = self.deployer.create(user, body.get("record"))
        return JSONResponse({"deployment": dep.to_dict(), "missing": missing}, status_code=201)

    async def commit_deployment(self, request: Request, user: User):
        """Step 3 of a deploy: start it (202)."""
        dep = self.deployer.commit(user, request.path_params["dep_id"])
        return JSONResponse({"deployment": dep.to_dict()}, status_code=202)

    async def get_deployment(self, request: Request, user: User) -> dict:
        """A deployment's events after ``after``; ``wait`` seconds long-polls for news."""
        dep = self.deployer.get(user, request.path_params["dep_id"])
        after = _int_param(request, "after", 0, 0, None)
        wait = min(_number_param(request, "wait", "a number of seconds") or 0.0, 30.0)
        if wait > 0 and dep.status in ("pending", "running") and len(dep.events) <= after:
            try:
                await asyncio.wait_for(dep.changed.wait(), wait)
            except asyncio.TimeoutError:
                pass
        return {"deployment": dep.to_dict(after)}

    async def put_blob(self, request: Request, user: User):
        """Step 2 of a deploy: one file, verified by its sha256 and its size."""
        sha = request.path_params["sha"]
        if not _SHA_RE.match(sha):
            raise UsageError(f"{sha[:80]!r} is not a sha256 hex digest.", type="bad_request")
        expected = self.deployer.expected_size(user, sha)
        if expected is None:
            raise UsageError(
                "No pending deployment of yours lists this blob; create the deployment first.",
                type="unexpected_blob",
                status=409,
            )
        limit = min(expected, self.platform.config.max_blob_bytes)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise UsageError(
                f"The blob has {declared} bytes; its build record says {expected}.",
                type="payload_too_large",
                status=413,
            )
        store = self.platform.store
        if store.has(sha):
            return JSONResponse({"sha256": sha, "stored": False}, status_code=200)
        reader = _BodyReader(request, limit)
        try:
            stored_sha, written = await anyio.to_thread.run_sync(
                lambda: store.put_stream(reader, expected=sha)
            )
        except HubError as err:
            err.status = 413 if reader.too_large else 400
            if reader.too_large:
                err.message = f"The blob is larger than the {expected} bytes its build record says."
                err.hint = None
            raise
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise HubError(
                f"The platform's disk is full (or its quota used up) at {store.root}; nothing of "
                "this file was kept. Free space there, then deploy again.",
                type="insufficient_storage",
                status=507,
                exit_code=1,
            ) from None
        return JSONResponse({"sha256": stored_sha, "stored": written > 0}, status_code=201)

    async def create_user(self, request: Request, user: User):
        """Create a user (the platform's own user only); the answer holds their token once."""
        if user.name != self.platform.local_user:
            raise HubError(
                "Only the platform's own user may create users.", type="forbidden", status=403
            )
        body = await _json_body(request)
        name = body.get("name")
        check_name(name, field="name")
        if self.platform.user_by_name(name) is not None:
            raise UsageError(f"There is already a user {name!r}.", type="exists", status=409)
        token = await self.platform.add_user(name)
        plan = self.platform.config.plan_for(name)
        return JSONResponse({"user": name, "token": token, "plan": plan.to_dict()}, status_code=201)

    async def shutdown(self, request: Request, user: User):
        """Stop the platform (its local user only)."""
        if user.name != self.platform.local_user:
            raise HubError(
                "Only the platform's own user may stop it.", type="forbidden", status=403
            )
        asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGTERM)
        return JSONResponse({"status": "stopping"}, status_code=202)

    # -- helpers ------------------------------------------------------------------------------
    def _base(self, request: Request) -> str:
        return self.platform.public_url or str(request.base_url).rstrip("/")

    def _quota(self, user: User, month: str, used: int | None = None) -> dict:
        used = self.platform.quota.used(user.id, month) if used is None else used
        return {
            "plan": user.plan.name,
            "monthly_calls": user.plan.monthly_calls,
            "used": used,
            "remaining": None
            if user.plan.monthly_calls is None
            else max(0, user.plan.monthly_calls - used),
            "max_apis": user.plan.max_apis,
            "apis": len(self.platform.routes.of_user(user.name)),
            "rate_limit_per_second": user.plan.rate_limit_per_second,
        }

    def _summary(self, request: Request, route, usage: dict, month: str) -> dict:
        live = route.live
        counts = usage.get(route.name, {"calls": 0, "errors": 0, "failures": 0})
        engine = self.platform.engine.status(live.engine_id) if live else None
        row = self.platform.db.query_one(
            "SELECT created_at, updated_at FROM apis WHERE id = ?", (route.api_id,)
        )
        deployed = (
            self.platform.db.query_one("SELECT deployed_at FROM versions WHERE id = ?", (live.id,))
            if live
            else None
        )
        failed_calls = counts["errors"] + counts["failures"]
        attempts = counts["calls"] + counts["failures"]
        return {
            "name": route.name,
            "user": route.user,
            "endpoint": f"{self._base(request)}/{route.user}/{route.name}",
            "status": engine["state"] if engine else "no_version",
            "workers": engine.get("workers", 0) if engine else 0,
            "busy": engine.get("busy", 0) if engine else 0,
            "load_error": engine.get("load_error") if engine else None,
            "live_version": None
            if live is None
            else {
                "version": live.version,
                "version_number": live.seq,
                "build_id": live.build_id,
                "deployed_at": deployed["deployed_at"] if deployed else None,
            },
            "month": month,
            "calls_this_month": counts["calls"],
            "errors_this_month": counts["errors"],
            "failures_this_month": counts["failures"],
            "error_rate": round(failed_calls / attempts, 4) if attempts else 0.0,
            "latency": latency_summary(self.platform.db, route.api_id, month),
            "created_at": row["created_at"] if row else None,
            "updated_at": row["updated_at"] if row else None,
        }


class _BodyReader:
    """A blocking ``read()`` over the request's streamed body, for the blob store's thread."""

    def __init__(self, request: Request, limit: int) -> None:
        self._stream = request.stream().__aiter__()
        self._buf = b""
        self._done = False
        self.limit = limit
        self.total = 0
        self.too_large = False

    async def _next(self) -> bytes:
        try:
            return await self._stream.__anext__()
        except StopAsyncIteration:
            return b""

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buf) < size):
            chunk = anyio.from_thread.run(self._next)
            if not chunk:
                self._done = True
                break
            self.total += len(chunk)
            if self.total > self.limit:
                self.too_large = True
                # Stop reading: the hash check then fails and nothing is kept.
                self._done = True
                self._buf += b"\0"
                break
            self._buf += chunk
        if size < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        return data


def _by_method(fns: dict):
    """One endpoint for the methods of a path (HEAD runs GET; Starlette drops the body)."""
    if len(fns) == 1:
        return next(iter(fns.values()))

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await fns[method](request)

    return endpoint


async def http_error(request: Request, exc) -> Response:
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


def _handler(fn):
    """Wrap a route method: authenticate, run, turn dicts into JSON and HubErrors into errors."""

    async def endpoint(request: Request) -> Response:
        control: Control = fn.__self__
        try:
            user = _authenticate(control.platform, request)
            result = await fn(request, user)
        except HubError as err:
            return error_response(err)
        if isinstance(result, Response):
            return result
        return JSONResponse(result)

    endpoint.__name__ = fn.__name__
    endpoint.__doc__ = fn.__doc__
    return endpoint


def _authenticate(platform: Platform, request: Request) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HubError(
            "The control plane needs a token: send Authorization: Bearer <token>.",
            type="missing_token",
            status=401,
            exit_code=1,
        )
    user = platform.user_for_token(token.strip())
    if user is None:
        raise HubError(
            "The platform does not accept this token.",
            type="invalid_token",
            hint="Check HUB_PLATFORM_TOKEN, or unset it to use the embedded platform's own token.",
            status=401,
            exit_code=1,
        )
    return user


def error_response(err: HubError) -> JSONResponse:
    """The control plane's one error shape."""
    return JSONResponse({"error": err.to_dict()}, status_code=err.status)


async def _json_body(request: Request, required: bool = True) -> dict:
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


def _bool_param(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in _BOOLEANS:
        raise UsageError(f"{name} must be true or false.", type="bad_request")
    return _BOOLEANS[raw]


def _int_param(
    request: Request, name: str, default: int | None, low: int, high: int | None
) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{name} must be a whole number.", type="bad_request") from None
    if value < low or (high is not None and value > high):
        raise UsageError(
            f"{name} must be between {low} and {high}."
            if high is not None
            else f"{name} must be at least {low}.",
            type="bad_request",
        )
    return value


def _number_param(request: Request, name: str, what: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{name} must be {what} (0 or more).", type="bad_request")
    return value


def _no_key(key_id: str) -> HubError:
    return UsageError(
        f"You have no key {key_id!r}.", type="not_found", hint="See `hub keys list`.", status=404
    )
