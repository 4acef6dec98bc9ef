"""The control plane: ``/api/v1/...`` (REST, JSON), thin handlers over the platform's services.

Every operation is declared once in :meth:`Control.operations` with its models (``schemas.py``);
``operations.py`` runs them and ``openapi.py`` describes them. Every route but the health checks
and the document needs ``Authorization: Bearer <token>``; the token names the user, and a user
only ever sees and changes their own APIs and keys. Errors are ``{"error": {"type", "message"}}``
with the HTTP status of the :class:`HubError` raised.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import signal

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .. import __version__
from ..errors import HubError, UsageError
from ..project.names import check_name
from . import instance_id
from . import schemas as s
from .deploy import Deployer
from .openapi import serve_json, serve_yaml
from .operations import Call, Op, endpoints
from .service import Platform, User, now_iso

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")

# The usual words of a refusal, by status (an operation may say more).
NOT_FOUND = "the caller has no such API"
NOT_OWNER = "not the platform's own user"


class Control:
    """The control-plane operations over a :class:`Platform` and its :class:`Deployer`."""

    def __init__(self, platform: Platform, deployer: Deployer) -> None:
        self.platform = platform
        self.deployer = deployer
        self.instance = instance_id(platform.state_dir) if platform else ""

    def operations(self) -> list[Op]:
        """Every operation of the control plane, in the order the document lists them."""
        no_api, no_key, key = (
            {404: NOT_FOUND},
            {404: "the caller has no such key"},
            "/api/v1/keys/{key_id}",
        )
        return [
            Op("GET", "/healthz", self.healthz, s.Health, public=True),
            Op(
                "GET",
                "/readyz",
                self.readyz,
                s.Readiness,
                public=True,
                also={503: ("starting or stopping", s.Readiness)},
            ),
            Op("GET", "/api/v1/openapi.yaml", serve_yaml, public=True, media="application/yaml"),
            Op("GET", "/api/v1/openapi.json", serve_json, public=True),
            Op("GET", "/api/v1/me", self.me, s.Me),
            Op(
                "POST",
                "/api/v1/users",
                self.create_user,
                s.UserCreated,
                201,
                body=s.UserCreate,
                errors={403: NOT_OWNER, 409: "there is such a user already"},
            ),
            Op("GET", "/api/v1/apis", self.list_apis, s.ApiList),
            Op("GET", "/api/v1/apis/{name}", self.get_api, s.ApiDetail, errors=no_api),
            Op("DELETE", "/api/v1/apis/{name}", self.delete_api, s.ApiDeleted, errors=no_api),
            Op("GET", "/api/v1/apis/{name}/versions", self.versions, s.Versions, errors=no_api),
            Op(
                "POST",
                "/api/v1/apis/{name}/rollback",
                self.rollback,
                s.DeployResult,
                body=s.Rollback,
                body_required=False,
                errors={404: NOT_FOUND, 500: "the version could not be loaded"},
            ),
            Op(
                "GET",
                "/api/v1/apis/{name}/invocations",
                self.invocations,
                s.Invocations,
                query=s.InvocationsQuery,
                errors=no_api,
            ),
            Op(
                "GET",
                "/api/v1/apis/{name}/logs",
                self.logs,
                s.Logs,
                query=s.LogsQuery,
                errors=no_api,
                stream=s.LogLine,
            ),
            Op("GET", "/api/v1/usage", self.usage, s.Usage, query=s.UsageQuery),
            Op("GET", "/api/v1/keys", self.list_keys, s.Keys),
            Op(
                "POST",
                "/api/v1/keys",
                self.create_key,
                s.KeyCreated,
                201,
                body=s.KeyCreate,
                body_required=False,
            ),
            Op("PATCH", key, self.update_key, s.KeyChanged, body=s.KeyUpdate, errors=no_key),
            Op("DELETE", key, self.delete_key, s.KeyDeleted, errors=no_key),
            Op("POST", key + "/reveal", self.reveal_key, s.KeySecret, errors=no_key),
            Op(
                "POST",
                "/api/v1/deployments",
                self.create_deployment,
                s.DeploymentCreated,
                201,
                body=s.DeploymentCreate,
                errors={403: "the plan's API limit is reached, or the record names another user"},
            ),
            Op(
                "PUT",
                "/api/v1/blobs/{sha}",
                self.put_blob,
                s.BlobStored,
                201,
                upload="application/octet-stream",
                also={200: ("the platform has this blob already", s.BlobStored)},
                errors={
                    400: "the content does not hash to sha, or sha is not a sha256 digest",
                    409: "no pending deployment of the caller lists this blob",
                    413: "larger than the build record says",
                    507: "the platform's disk is full (nothing of the blob is kept)",
                },
            ),
            Op(
                "POST",
                "/api/v1/deployments/{dep_id}/commit",
                self.commit_deployment,
                s.DeploymentAnswer,
                202,
                errors={400: "blobs are still missing", 404: "the caller has no such deployment"},
            ),
            Op(
                "GET",
                "/api/v1/deployments/{dep_id}",
                self.get_deployment,
                s.DeploymentAnswer,
                query=s.DeploymentQuery,
                errors={404: "the caller has no such deployment"},
            ),
            Op("POST", "/api/v1/shutdown", self.shutdown, s.Stopping, 202, errors={403: NOT_OWNER}),
        ]

    def routes(self) -> list[Route]:
        """The Starlette routes of the control plane."""
        return endpoints(self.operations(), self._authenticate)

    # -- health -------------------------------------------------------------------------------
    async def healthz(self, call: Call) -> s.Health:
        """Liveness: the process answers; ``service`` tells a client it reached a Hub platform."""
        return s.Health(
            status="ok", service="hub-platform", version=__version__, instance=self.instance
        )

    async def readyz(self, call: Call):
        """Readiness (state open, engine started, APIs loaded)."""
        if not self.platform.ready:
            answer = s.Readiness(status="starting", service="hub-platform")
            return Response(answer.model_dump_json(), 503, media_type="application/json")
        return s.Readiness(status="ready", service="hub-platform", version=__version__)

    # -- account ------------------------------------------------------------------------------
    async def me(self, call: Call) -> s.Me:
        """The caller, their plan and this month's count."""
        user, month = call.user, self.platform.month()
        return s.Me(
            user=user.name,
            plan=user.plan.to_dict(),
            month=month,
            calls_this_month=self.platform.quota.used(user.id, month),
            gateway_url=self._base(call.request),
        )

    async def create_user(self, call: Call):
        """Create a user (the platform's own user only); the answer holds their token once."""
        self._own_user_only(call.user, "create users")
        name = check_name(call.body.name, field="name")
        if self.platform.user_by_name(name) is not None:
            raise UsageError(f"There is already a user {name!r}.", type="exists", status=409)
        token = await self.platform.add_user(name)
        plan = self.platform.config.plan_for(name)
        return s.UserCreated(user=name, token=token, plan=plan.to_dict())

    async def shutdown(self, call: Call) -> s.Stopping:
        """Stop the platform (its own user only)."""
        self._own_user_only(call.user, "stop it")
        asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGTERM)
        return s.Stopping(status="stopping")

    # -- APIs ---------------------------------------------------------------------------------
    async def list_apis(self, call: Call) -> s.ApiList:
        """Every API of the caller, with status, usage and latency."""
        user, month = call.user, self.platform.month()
        states = self.platform.api_states(user, month)
        routes = sorted(self.platform.routes.of_user(user.name), key=lambda r: r.name)
        apis = [self._summary(call.request, route, states[route.name], month) for route in routes]
        return s.ApiList(apis=apis, quota=self._quota(user, month))

    async def get_api(self, call: Call) -> s.ApiDetail:
        """One API, as in the list, with the caller's quota."""
        route = self.deployer.route_of(call.user, call.param("name"))
        month = self.platform.month()
        state = self.platform.api_states(call.user, month)[route.name]
        summary = self._summary(call.request, route, state, month)
        return s.ApiDetail(**dict(summary), quota=self._quota(call.user, month))

    async def delete_api(self, call: Call) -> s.ApiDeleted:
        """Stop the API and delete it with its versions, history and logs (usage counts stay)."""
        return s.ApiDeleted.model_validate(
            await self.deployer.delete(call.user, call.param("name"))
        )

    async def versions(self, call: Call) -> s.Versions:
        """The versions of an API, newest first."""
        route = self.deployer.route_of(call.user, call.param("name"))
        return s.Versions(api=route.name, versions=self.platform.versions_of(route))

    async def rollback(self, call: Call) -> s.DeployResult:
        """Make an earlier version live (load it, switch, drain the old one)."""
        target = call.body.version
        result = await self.deployer.rollback(
            call.user, call.param("name"), None if target in (None, "") else str(target)
        )
        return s.DeployResult.model_validate(result)

    async def invocations(self, call: Call) -> s.Invocations:
        """Invocation history, newest first (``limit``, ``before`` to page)."""
        route = self.deployer.route_of(call.user, call.param("name"))
        q = call.query
        items = await anyio.to_thread.run_sync(
            lambda: self.platform.invocations(route, q.limit, q.before)
        )
        return s.Invocations(api=route.name, invocations=items)

    async def logs(self, call: Call):
        """What the handler printed (``after`` a line id, ``tail``, ``invocation_id``, ``follow``)."""
        route = self.deployer.route_of(call.user, call.param("name"))
        sink, q = self.platform.logs, call.query
        after = q.after
        if q.tail is not None and "after" not in q.model_fields_set:
            after = sink.tail(route.api_id, q.tail)
        if not q.follow:
            lines = sink.read(route.api_id, after, q.limit, q.invocation_id)
            nxt = lines[-1].id if lines else after
            return s.Logs(api=route.name, lines=lines, next=nxt)
        return StreamingResponse(
            self._follow(call.request, route, after, q.invocation_id),
            media_type="application/x-ndjson",
        )

    async def _follow(self, request: Request, route, after: int, invocation_id: str | None):
        sink = self.platform.logs
        while True:
            lines = sink.read(route.api_id, after, 500, invocation_id)
            for line in lines:
                yield line.model_dump_json() + "\n"
            if lines:
                after = lines[-1].id
                continue
            if (
                await request.is_disconnected()
                or self.platform.routes.get(route.user, route.name) is None
            ):
                return
            await sink.wait_for_new(timeout=10.0)
            yield "\n"  # a keep-alive blank line: lets the client notice the stream is alive

    async def usage(self, call: Call) -> s.Usage:
        """Calls per API in a month (default this one) against the quota, errors, latency."""
        user = call.user
        month = call.query.month or self.platform.month()
        items = [
            s.ApiUsage(
                api=name,
                deleted=state.deleted,
                **state.counts.model_dump(),
                **state.latency.model_dump(),
            )
            for name, state in sorted(self.platform.api_states(user, month).items())
        ]
        total = sum(i.calls for i in items)
        return s.Usage(
            month=month, apis=items, total_calls=total, quota=self._quota(user, month, total)
        )

    # -- keys ---------------------------------------------------------------------------------
    async def list_keys(self, call: Call) -> s.Keys:
        """The caller's keys, masked."""
        return s.Keys(keys=self.platform.keys.list(call.user.id))

    async def create_key(self, call: Call) -> s.KeyCreated:
        """Create a key; the answer holds it in full (``secret``)."""
        key, secret = await self.platform.keys.create(call.user.id, call.body.name, now_iso())
        return s.KeyCreated(key=key, secret=secret)

    async def reveal_key(self, call: Call) -> s.KeySecret:
        """One of the caller's keys in full (its owner only)."""
        key_id = call.param("key_id")
        secret = self.platform.keys.reveal(call.user.id, key_id)
        if secret is None:
            raise _no_key(key_id)
        return s.KeySecret(id=key_id, secret=secret)

    async def update_key(self, call: Call) -> s.KeyChanged:
        """Enable or disable a key (body ``{"enabled": bool}``)."""
        key_id = call.param("key_id")
        if not await self.platform.keys.set_enabled(call.user.id, key_id, call.body.enabled):
            raise _no_key(key_id)
        return s.KeyChanged(key=self.platform.keys.get(call.user.id, key_id))

    async def delete_key(self, call: Call) -> s.KeyDeleted:
        """Delete a key for good."""
        key_id = call.param("key_id")
        if not await self.platform.keys.delete(call.user.id, key_id):
            raise _no_key(key_id)
        self.platform.limiter.forget(key_id)
        return s.KeyDeleted(id=key_id, deleted=True)

    # -- deployments --------------------------------------------------------------------------
    async def create_deployment(self, call: Call) -> s.DeploymentCreated:
        """Deploy, step 1: send the build record; get the blobs the platform lacks."""
        dep, missing = self.deployer.create(call.user, call.body.record)
        return s.DeploymentCreated(deployment=dep.to_dict(), missing=missing)

    async def put_blob(self, call: Call):
        """Deploy, step 2: upload one file a pending deployment lists (checked: hash, size)."""
        sha, user, request = call.param("sha"), call.user, call.request
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
            answer = s.BlobStored(sha256=sha, stored=False)
            return Response(answer.model_dump_json(), 200, media_type="application/json")
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
        return s.BlobStored(sha256=stored_sha, stored=written > 0)

    async def commit_deployment(self, call: Call) -> s.DeploymentAnswer:
        """Deploy, step 3: start the deployment (it runs in the background)."""
        dep = self.deployer.commit(call.user, call.param("dep_id"))
        return s.DeploymentAnswer(deployment=dep.to_dict())

    async def get_deployment(self, call: Call) -> s.DeploymentAnswer:
        """A deployment's events and, when finished, its result or error (``wait`` long-polls)."""
        dep = self.deployer.get(call.user, call.param("dep_id"))
        after, wait = call.query.after, min(call.query.wait or 0.0, 30.0)
        if wait > 0 and dep.status in ("pending", "running") and len(dep.events) <= after:
            try:
                await asyncio.wait_for(dep.changed.wait(), wait)
            except asyncio.TimeoutError:
                pass
        return s.DeploymentAnswer(deployment=dep.to_dict(after))

    # -- helpers ------------------------------------------------------------------------------
    def _authenticate(self, request: Request) -> User:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HubError(
                "The control plane needs a token: send Authorization: Bearer <token>.",
                type="missing_token",
                status=401,
                exit_code=1,
            )
        user = self.platform.user_for_token(token.strip())
        if user is None:
            raise HubError(
                "The platform does not accept this token.",
                type="invalid_token",
                hint="Check HUB_PLATFORM_TOKEN, or unset it to use the embedded platform's own "
                "token.",
                status=401,
                exit_code=1,
            )
        return user

    def _own_user_only(self, user: User, what: str) -> None:
        if user.name != self.platform.local_user:
            raise HubError(
                f"Only the platform's own user may {what}.", type="forbidden", status=403
            )

    def _base(self, request: Request) -> str:
        return self.platform.public_url or str(request.base_url).rstrip("/")

    def _quota(self, user: User, month: str, used: int | None = None) -> s.Quota:
        used = self.platform.quota.used(user.id, month) if used is None else used
        plan = user.plan
        return s.Quota(
            plan=plan.name,
            monthly_calls=plan.monthly_calls,
            used=used,
            remaining=None if plan.monthly_calls is None else max(0, plan.monthly_calls - used),
            max_apis=plan.max_apis,
            apis=len(self.platform.routes.of_user(user.name)),
            rate_limit_per_second=plan.rate_limit_per_second,
        )

    def _summary(self, request: Request, route, state, month: str) -> s.ApiSummary:
        """An API's summary: its route, its engine's status and its state (``api_states``)."""
        live, counts = route.live, state.counts
        engine = self.platform.engine.status(live.engine_id) if live else {}
        failed_calls = counts.errors + counts.failures
        attempts = counts.calls + counts.failures
        return s.ApiSummary(
            name=route.name,
            user=route.user,
            endpoint=f"{self._base(request)}/{route.user}/{route.name}",
            status=engine.get("state", "no_version"),
            workers=engine.get("workers", 0),
            busy=engine.get("busy", 0),
            load_error=engine.get("load_error"),
            live_version=None
            if live is None
            else s.LiveVersion(
                version=live.version,
                version_number=live.seq,
                build_id=live.build_id,
                deployed_at=state.deployed_at,
            ),
            month=month,
            calls_this_month=counts.calls,
            errors_this_month=counts.errors,
            failures_this_month=counts.failures,
            error_rate=round(failed_calls / attempts, 4) if attempts else 0.0,
            latency=state.latency,
            calls_per_day=state.calls_per_day,
            created_at=state.created_at,
            updated_at=state.updated_at,
        )


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


def _no_key(key_id: str) -> HubError:
    return UsageError(
        f"You have no key {key_id!r}.", type="not_found", hint="See `hub keys list`.", status=404
    )
