"""The data plane: ``GET|POST /<user>/<api>`` with ``x-api-key``, the wire format of ARCHITECTURE.md (wire format).

A plain ASGI callable rather than a framework route, because this is the hot path: it reads the
body itself (so a too-large body is refused from ``Content-Length`` before a byte is read, and
while reading when the header lies), verifies the key against the in-memory key table, and
splices the engine's already-encoded output into the envelope without decoding it.

Order of checks (each answers the envelope with ``statusCode`` = HTTP status):
404 not a ``/<user>/<api>`` path → 405 a method other than GET, HEAD (= GET without the body),
POST, OPTIONS (with ``Allow``) → 400 two ``x-api-key`` headers → 401 no key (surrounding
whitespace is trimmed) → 403 unknown or disabled key, or a key of another user → 404 no such
API → 429 rate limit (per key) → 413 body too large → 400 body not RFC 8259 JSON
(``strictjson``) → 429 monthly quota → the engine: 200, 500 (handler raised or could not load),
502 (worker died), 504 (timeout).

Counting: see ``quotas.py``. A counted invocation is committed to SQLite before its response
is sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import time

from . import strictjson
from .engines import UnknownVersionError
from .metrics import GatewayCounts
from .models import InvocationRow
from .quotas import seconds_to_next_month
from .service import Platform
from .store.metering import MeterStopped

log = logging.getLogger("hub.platform.gateway")

_JSON = (b"content-type", b"application/json")
_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"retry-after"),
]
_PREFLIGHT = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD, POST, OPTIONS"),
    (b"access-control-allow-headers", b"x-api-key, content-type"),
    (b"access-control-max-age", b"600"),
]
_ALLOW = (b"allow", b"GET, HEAD, POST, OPTIONS")
PRUNE_EVERY = 500
KEY_TOUCH_SECONDS = 60.0  # precision of a key's last_used_at


class GatewayError(Exception):
    """An answer of the gateway other than the handler's (an error envelope)."""

    api = None  # the ApiCounts of the API the request named, once it is known (for /metrics)

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        retry_after: float | None = None,
        headers: list | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.retry_after = retry_after
        self.headers = headers


def envelope_error(status: int, type: str, message: str, invocation_id: str | None = None) -> bytes:
    """The bytes of an error envelope."""
    body: dict = {"error": {"type": type, "message": message}}
    if invocation_id:
        body["invocation_id"] = invocation_id
    return json.dumps({"statusCode": status, "body": body}).encode()


def envelope_output(output_json: bytes, invocation_id: str) -> bytes:
    """The bytes of a success envelope around the handler's already-encoded output."""
    return b"".join(
        (
            b'{"statusCode":200,"body":{"output":',
            output_json,
            b',"invocation_id":"',
            invocation_id.encode(),
            b'"}}',
        )
    )


class Gateway:
    """The ASGI app serving every path that is not the control plane's."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._since_prune = 0
        self._key_touched: dict[str, float] = {}
        # Invocation ids: a random per-process prefix and a counter. Unique across restarts
        # (64 random bits), and no system call per request (os.urandom is slow on some VMs).
        self._id_prefix = secrets.token_hex(8)
        self._id_counter = itertools.count(1)
        # What /metrics reports (metrics.py): plain counters, updated on this loop only.
        self.counts = GatewayCounts()
        # -- async: Prefer: respond-async calls and their results (async_invocations.py) --
        from .async_invocations import AsyncInvocations

        self.async_calls = platform.async_calls = AsyncInvocations(platform, self)
        # -- end async --

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        counts = self.counts
        counts.inflight += 1
        try:
            api, status = await self._handle(scope, receive, send)
        except GatewayError as err:
            api, status = err.api, err.status
            await _send(
                send,
                err.status,
                envelope_error(err.status, err.type, err.message),
                err.retry_after,
                err.headers,
            )
        except Exception:
            # Never a traceback to the caller; never the request headers (the key) in the log.
            log.exception("gateway error on %s %s", scope.get("method"), scope.get("path"))
            api, status = None, 500
            await _send(
                send,
                500,
                envelope_error(
                    500, "internal_error", "The platform failed to handle the request; see its log."
                ),
            )
        finally:
            counts.inflight -= 1
        by_status = api.by_status if api is not None else counts.unrouted
        by_status[status] = by_status.get(status, 0) + 1

    async def _handle(self, scope, receive, send):
        """Answer one request; returns the answered API's counts (None: no known API) and the
        HTTP status, or raises GatewayError for the envelope of a refusal."""
        started = time.perf_counter()
        method = scope["method"]
        if method == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": _PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return None, 204
        parts = scope["path"].strip("/").split("/")
        if len(parts) != 2 or not all(parts):
            # -- async: GET /<user>/<api>/invocations/<id>, an asynchronous call's result --
            if len(parts) == 4 and parts[2] == "invocations" and all(parts):
                return await self.async_calls.fetch(scope, parts, send)
            # -- end async --
            raise GatewayError(
                404, "not_found", "No such endpoint; an API's endpoint is /<username>/<api-name>."
            )
        if method == "HEAD":
            method = "GET"  # the same answer without its body (uvicorn leaves the body out)
        elif method not in ("GET", "POST"):
            raise GatewayError(
                405,
                "method_not_allowed",
                f"{method} is not supported; use GET to load the API and POST to call it.",
                headers=[_ALLOW],
            )
        user_name, api_name = parts
        platform = self.platform

        presented = None
        content_length = None
        accept = None
        prefer = None  # async
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                if presented is not None:
                    raise GatewayError(
                        400,
                        "bad_request",
                        "The request has more than one x-api-key header; send exactly one.",
                    )
                presented = value.decode("latin-1").strip()
            elif name == b"content-length":
                content_length = value
            elif name == b"accept":
                accept = value
            elif name == b"prefer":  # async (RFC 7240)
                prefer = value
        if not presented:
            raise GatewayError(
                401,
                "missing_key",
                "The request has no x-api-key header; send your API key in it (see `hub keys list`).",
            )
        entry = platform.keys.verify(presented)
        if entry is None:
            raise GatewayError(
                403, "invalid_key", "The API key is not valid; check it with `hub keys list`."
            )
        if not entry.enabled:
            raise GatewayError(
                403,
                "disabled_key",
                "The API key is disabled; enable it with `hub keys enable` or use another key.",
            )
        route = platform.routes.get(user_name, api_name)
        if entry.user_id != (route.user_id if route else _user_id(platform, user_name)):
            raise GatewayError(
                403,
                "forbidden",
                f"This API key does not belong to {user_name}; a key calls only its owner's APIs.",
            )
        if route is None or route.live is None:
            raise GatewayError(
                404,
                "not_found",
                f"{user_name} has no API called {api_name!r}; deploy it with `hub deploy`.",
            )
        api = self.counts.api(route.user, route.name)
        try:
            user = platform.user_by_id(route.user_id)
            # -- plans: a disabled user's APIs refuse calls (admin PATCH /api/v1/admin/users) --
            if user.disabled:
                raise GatewayError(
                    403,
                    "disabled_user",
                    f"The account of {user_name} is disabled on this platform; its APIs answer no calls.",
                )
            # -- end plans --
            plan = user.plan
            wait = platform.limiter.check(
                entry.id, plan.rate_limit_per_second, plan.rate_limit_burst
            )
            if wait:
                raise GatewayError(
                    429,
                    "rate_limited",
                    f"Too many requests with this key (limit {plan.rate_limit_per_second:g}/s); retry after {wait:.2f} s.",
                    retry_after=wait,
                )

            if method == "GET":
                return api, await self._wake(route, api, send)

            limit = route.live.max_body_bytes
            body = await _read_body(receive, content_length, limit)
            if body is None:
                # The client went away: nothing sent (499, nginx's "client closed request").
                return api, 499
            if not body.strip():
                raise GatewayError(
                    400,
                    "bad_json",
                    'The request body is empty; send a JSON value, e.g. "some text" or {"inputs": [...]}.',
                )
            try:
                strictjson.loads(body)
            except strictjson.NotJSON as err:
                raise GatewayError(
                    400,
                    "bad_json",
                    f"The request body is not valid JSON ({err}); send a JSON value with Content-Type application/json.",
                ) from None

            month = platform.month()
            if not platform.quota.try_reserve(user.id, plan.monthly_calls, month):
                raise GatewayError(
                    429,
                    "quota_exceeded",
                    # plans: the sentence says how to see and change the plan
                    f"The monthly quota of {plan.monthly_calls} calls (plan {plan.name}) is used up until the 1st (UTC); see it with `hub plan`, and raise it with `hub plan set monthly_calls=N` (the platform's owner or an admin).",
                    retry_after=seconds_to_next_month(),
                )
            # -- async: Prefer: respond-async answers 202 and runs the call in the background --
            if prefer is not None and b"respond-async" in prefer.lower():
                return api, await self.async_calls.submit(
                    route, api, user, entry, body, month, scope, send
                )
            # -- end async --
            if accept is not None and b"text/event-stream" in accept:
                return api, await self._invoke_stream(
                    route, api, started, user.id, entry.id, body, month, send
                )
            return api, await self._invoke(
                route, api, started, user.id, entry.id, body, month, send
            )
        except GatewayError as err:
            err.api = api  # counted as this API's refusal
            raise

    async def _wake(self, route, api, send) -> int:
        live = route.enter()
        ping = None
        try:
            status = await self.platform.engine.warm(live.engine_id)
            if status.get("pings"):  # a 2021-style handler(event, context) is called with 'PING'
                ping_id = f"{self._id_prefix}{next(self._id_counter):08x}"
                ping = await self.platform.engine.invoke(live.engine_id, b"", ping_id)
        except UnknownVersionError:
            raise GatewayError(
                503,
                "redeploying",
                "The API is switching versions; retry in a second.",
                retry_after=1,
            ) from None
        finally:
            route.leave(live)
        if status.get("state") == "failed":
            raise GatewayError(
                500,
                "LoadError",
                status.get("load_error") or "The API failed to load; see `hub logs`.",
            )
        body = {
            "status": "ready",
            "api": route.name,
            "user": route.user,
            "version": live.version,
            "version_number": live.seq,
            "workers": status.get("workers"),
            "load_seconds": status.get("load_seconds", 0.0),
            "import_seconds": status.get("import_seconds", 0.0),
        }
        if body["load_seconds"]:
            api.cold_starts += 1
        if ping is not None:
            if not ping.ok:
                message = ping.error_message or "The handler failed; see `hub logs`."
                raise GatewayError(ping.http_code, ping.error_type or ping.status, message)
            body["output"] = json.loads(ping.output_json or b"null")
        await _send(send, 200, json.dumps({"statusCode": 200, "body": body}).encode())
        return 200

    async def _invoke(
        self, route, api, received: float, user_id: int, key_id: str, body: bytes, month: str, send
    ) -> int:
        platform = self.platform
        invocation_id = f"{self._id_prefix}{next(self._id_counter):08x}"
        started = time.perf_counter()
        ts = time.time()
        touch = ts - self._key_touched.get(key_id, 0.0) >= KEY_TOUCH_SECONDS
        if touch:
            self._key_touched[key_id] = ts
        live = route.enter()
        try:
            result = await platform.engine.invoke(live.engine_id, body, invocation_id)
        except UnknownVersionError:
            platform.quota.release(user_id, month)
            raise GatewayError(
                503,
                "redeploying",
                "The API is switching versions; retry in a second.",
                retry_after=1,
            ) from None
        except BaseException:
            platform.quota.release(user_id, month)
            raise
        finally:
            route.leave(live)
        latency_ms = (time.perf_counter() - started) * 1000.0

        status = result.http_code
        if status == 200:
            payload = envelope_output(result.output_json or b"null", invocation_id)
        else:
            payload = envelope_error(
                status,
                result.error_type or result.status,
                result.error_message or "The handler failed; see `hub logs`.",
                invocation_id,
            )
        # Durable before answered: the response goes out only after this commit.
        await self._record(
            route, live, invocation_id, user_id, key_id, ts, month, body, result, latency_ms, touch
        )
        await _send(send, status, payload)
        api.observe(time.perf_counter() - received)
        if result.cold_start:
            api.cold_starts += 1
        return status

    async def _record(
        self,
        route,
        live,
        invocation_id,
        user_id,
        key_id,
        ts,
        month,
        body,
        result,
        latency_ms,
        touch,
    ) -> None:
        """Commit one answered call (its invocation row and counters), then settle its quota.

        What counts (``quotas.py``): an answer of the handler, a value or its exception; not a
        request the platform refused before the handler ran (bad JSON, a version that cannot
        load). The caller sends the answer only after this returns.
        """
        platform = self.platform
        status = result.http_code
        counted = result.status == "ok" or (
            result.status == "error" and result.error_type not in ("InvalidJSON", "LoadError")
        )
        self._since_prune += 1
        prune = None
        if self._since_prune >= PRUNE_EVERY:
            self._since_prune = 0
            prune = platform.config.keep_invocations
        row = InvocationRow(
            id=invocation_id,
            user_id=user_id,
            api_id=route.api_id,
            api_name=route.name,
            version_id=live.id,
            key_id=key_id,
            ts=ts,
            month=month,
            status=status,
            counted=counted,
            latency_ms=latency_ms,
            input=body,
            output=result.output_json if status == 200 else None,
            error_type=None if status == 200 else (result.error_type or result.status),
            error_message=None if status == 200 else result.error_message,
        )
        try:
            await platform.repos.invocations.add(row, platform.config.capture_bytes, prune, touch)
        except MeterStopped as err:
            platform.quota.release(user_id, month)
            raise GatewayError(
                503,
                "not_recorded",
                f"The API answered, but the platform could not record the call, so its answer "
                f"is not sent and it is not counted: call again. ({err})",
                retry_after=1,
            ) from None
        except BaseException:
            platform.quota.release(user_id, month)
            raise
        if counted:
            platform.quota.commit(user_id, month)
        else:
            platform.quota.release(user_id, month)

    # -- SSE streaming (batch helper) ------------------------------------------------------------

    async def _invoke_stream(
        self, route, api, received: float, user_id: int, key_id: str, body: bytes, month: str, send
    ) -> int:
        """A call whose client accepts ``text/event-stream``: the outputs as Server-Sent Events.

        The wire format (ARCHITECTURE.md, streaming): ``200``, ``Content-Type:
        text/event-stream``, ``X-Invocation-Id``; ``event: start`` with
        ``{"invocation_id"}``; one ``data: <output JSON>`` event per output a generator handler
        yields (a handler that returns sends its one output); ``event: end`` with
        ``{"invocation_id", "items"}``, or ``event: error`` with ``{"invocation_id", "status",
        "error": {"type", "message"}}`` when it fails after the stream began. A failure before
        the first output is the usual JSON error envelope with its HTTP status. Metered once,
        like any call: the invocation is committed before its last event is sent.
        """
        platform = self.platform
        invocation_id = f"{self._id_prefix}{next(self._id_counter):08x}"
        started = time.perf_counter()
        ts = time.time()
        touch = ts - self._key_touched.get(key_id, 0.0) >= KEY_TOUCH_SECONDS
        if touch:
            self._key_touched[key_id] = ts
        queue: asyncio.Queue = asyncio.Queue()
        live = route.enter()

        async def run():
            try:
                return await platform.engine.invoke(
                    live.engine_id, body, invocation_id, on_item=queue.put_nowait
                )
            finally:
                queue.put_nowait(None)

        task = asyncio.ensure_future(run())
        opened = False

        async def open_stream():
            headers = [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no"),
                (b"x-invocation-id", invocation_id.encode()),
                (b"access-control-allow-origin", b"*"),
                (b"access-control-expose-headers", b"retry-after, x-invocation-id"),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            start = json.dumps({"invocation_id": invocation_id}).encode()
            await send(_event_message(b"start", start, more=True))

        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if not opened:
                    opened = True
                    await open_stream()
                await send(_event_message(None, item, more=True))
            result = task.result()
        except UnknownVersionError:
            platform.quota.release(user_id, month)
            if opened:  # (cannot happen: a version is not removed under a running call)
                await send(_event_message(b"error", b'{"status":503}', more=False))
                return 200
            raise GatewayError(
                503,
                "redeploying",
                "The API is switching versions; retry in a second.",
                retry_after=1,
            ) from None
        except BaseException:
            task.cancel()
            platform.quota.release(user_id, month)
            raise
        finally:
            route.leave(live)
        latency_ms = (time.perf_counter() - started) * 1000.0

        status = result.http_code
        error_type = None if status == 200 else (result.error_type or result.status)
        message = result.error_message or "The handler failed; see `hub logs`."
        # Durable before answered: the last event goes out only after this commit.
        await self._record(
            route, live, invocation_id, user_id, key_id, ts, month, body, result, latency_ms, touch
        )
        if result.cold_start:
            api.cold_starts += 1
        if status != 200 and not opened:
            await _send(send, status, envelope_error(status, error_type, message, invocation_id))
            api.observe(time.perf_counter() - received)
            return status
        if not opened:
            await open_stream()
            if result.items is None:  # a handler that returned: its one output
                await send(_event_message(None, result.output_json or b"null", more=True))
        if status == 200:
            count = len(result.items) if result.items is not None else 1
            end = {"invocation_id": invocation_id, "items": count}
            await send(_event_message(b"end", json.dumps(end).encode(), more=False))
        else:
            error = {
                "invocation_id": invocation_id,
                "status": status,
                "error": {"type": error_type, "message": message},
            }
            await send(_event_message(b"error", json.dumps(error).encode(), more=False))
        api.observe(time.perf_counter() - received)  # to the last event
        return 200  # the stream opened: its HTTP status (an error after it is an event)


def _event_message(event: bytes | None, data: bytes, more: bool) -> dict:
    """The ASGI body message of one Server-Sent Event (``data`` is one line of JSON)."""
    head = b"event: " + event + b"\n" if event else b""
    return {
        "type": "http.response.body",
        "body": head + b"data: " + data + b"\n\n",
        "more_body": more,
    }


# -- end of SSE streaming ---------------------------------------------------------------------


def _user_id(platform: Platform, name: str) -> int | None:
    user = platform.user_by_name(name)
    return user.id if user else None


async def _read_body(receive, content_length: bytes | None, limit: int) -> bytes | None:
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise GatewayError(
                400, "bad_request", "The Content-Length header is not a number."
            ) from None
        if declared > limit:
            raise GatewayError(
                413,
                "payload_too_large",
                f"The request body has {declared} bytes; this API accepts at most {limit}.",
            )
    chunks = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise GatewayError(
                413,
                "payload_too_large",
                f"The request body is over {limit} bytes, the most this API accepts.",
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(
    send, status: int, payload: bytes, retry_after: float | None = None, extra=None
) -> None:
    headers = [_JSON, (b"content-length", str(len(payload)).encode()), *_CORS]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, int(retry_after + 0.999))).encode()))
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
