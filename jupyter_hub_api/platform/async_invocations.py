"""Asynchronous invocations: ``POST /<user>/<api>`` with ``Prefer: respond-async`` (RFC 7240).

The gateway makes every check of a synchronous call first (key, plan, rate limit, body, JSON,
monthly quota: a refusal answers as it always does), then hands the call to
:meth:`AsyncInvocations.submit`, which

1. checks the optional ``Hub-Callback-Url`` header (below; a bad one is a 400 and gives the
   quota reservation back),
2. writes the call as ``queued`` (``async_invocations``, ``store/async_calls.py``) and only then
   answers ``202 Accepted`` with ``Location: <platform>/<user>/<api>/invocations/<id>``,
   ``Preference-Applied: respond-async`` and the envelope
   ``{"statusCode": 202, "body": {"invocation_id", "status": "queued", "url"}}``,
3. runs it in the background: ``running``, the engine with the API's ``async_timeout_seconds``
   (runtime setting, default 900 s) in place of ``timeout_seconds``, then the ordinary metering
   (``Gateway._record``: one ``invocations`` row, one quota count by the usual rule, whether it
   succeeded or failed), then ``succeeded`` / ``failed`` with the envelope a synchronous call
   would have answered (an output past ``max_output_bytes`` is replaced by a 507 error
   envelope: kept results are bounded).

``GET <url>`` with a key of the API's owner answers ``{"statusCode": 200, "body":
{"invocation_id", "status": "queued|running", "url", ...}}`` while it runs and, once done, the
call's own envelope (its ``statusCode`` is the HTTP status) with ``"status":
"succeeded|failed"`` added to its body. Another user's key gets 403 (as for their APIs), an
unknown id or one of another API of the owner 404: the answer never says whether an id exists
elsewhere. Finished calls are kept ``retention_days`` (default 7), then pruned.

Restart: the row of an accepted call is committed before its 202, so nothing accepted is lost.
At start, ``queued`` calls run (their quota reservation is taken again); a call that was
``running`` when the platform died is reported ``failed`` (502 ``Interrupted``), not rerun: a
handler may have side effects (a rerun could do them twice) and the call may be what brought the
platform down. Its metering row is written then (not counted, like any 502), unless the old
process had already written it, in which case the outcome recorded there is used.

Webhook: ``Hub-Callback-Url: https://...`` makes the platform POST the result envelope there
when the call is done, with ``Hub-Invocation-Id`` and ``Hub-Signature: t=<unix time>,
v1=<hex HMAC-SHA256 over "<t>.<body>">`` keyed with the API key the call was made with (the
receiver has it; it compares in constant time and rejects old ``t``). Up to
``callback_attempts`` tries (default 4) with back-off (1, 4, 16 s ...); a 2xx answer ends them.
SSRF: only ``http``/``https`` URLs whose host resolves to public addresses are taken (loopback,
link-local, private, shared, multicast, reserved and the platform's own addresses are a 400 at
submission) unless an address is inside the config's ``async.callback_allow`` networks; the
POST connects to the address that was checked (the host name goes in ``Host`` and, for https,
as the TLS server name), so a DNS answer that changes later (rebinding) is never followed.

Platform config (``"async"`` object): ``retention_days`` 7, ``max_output_bytes`` 1 MiB,
``callback_allow`` [] (CIDR networks, e.g. ``["127.0.0.1/32"]``), ``callback_attempts`` 4,
``callback_backoff_seconds`` 1.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

from .engines import InvocationResult, UnknownVersionError
from .gateway import GatewayError, _send, envelope_error, envelope_output
from .store.async_calls import DONE, FAILED, QUEUED, RUNNING, SUCCEEDED, AsyncCall, AsyncCalls

log = logging.getLogger("hub.platform.async")

PREFER = b"respond-async"
CALLBACK_HEADER = b"hub-callback-url"
DEFAULT_ASYNC_TIMEOUT = 900.0
PRUNE_EVERY_SECONDS = 3600.0
INTERRUPTED = (
    "The platform stopped while this call was running; it was not completed and is not rerun "
    "(a handler may have side effects); submit it again."
)


class Settings:
    """The platform config's ``async`` object."""

    def __init__(self, raw: dict | None) -> None:
        raw = raw or {}
        self.retention_days = float(raw.get("retention_days", 7))
        self.max_output_bytes = int(raw.get("max_output_bytes", 1024 * 1024))
        self.callback_attempts = int(raw.get("callback_attempts", 4))
        self.callback_backoff = float(raw.get("callback_backoff_seconds", 1.0))
        self.callback_allow = [
            ipaddress.ip_network(str(net), strict=False) for net in raw.get("callback_allow", [])
        ]


class AsyncInvocations:
    """The asynchronous calls of one platform (made by the gateway, started by the platform)."""

    def __init__(self, platform, gateway) -> None:
        self.platform = platform
        self.gateway = gateway
        self.settings = Settings(getattr(platform.config, "async_calls", None))
        self.repo: AsyncCalls | None = None
        self._slots: dict[int, asyncio.Semaphore] = {}
        self._pruned_at = 0.0

    # -- life cycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """After the platform's start: settle what the last run left (see the module doc)."""
        self.repo = AsyncCalls(self.platform.db)
        await self.prune()
        for call in self.repo.unfinished():
            if call.state == RUNNING:
                await self._interrupted(call)
            else:
                self.platform.quota.try_reserve(call.user_id, None, call.month)
                self.platform.spawn(self._run(call))
        for call in self.repo.undelivered():
            self.platform.spawn(self._deliver(call))

    async def prune(self) -> None:
        self._pruned_at = time.time()
        cutoff = self._pruned_at - self.settings.retention_days * 86400.0
        await self.repo.prune(cutoff)

    # -- POST with Prefer: respond-async ----------------------------------------------------
    async def submit(self, route, api, user, entry, body: bytes, month: str, scope, send) -> int:
        """Accept one call (the quota unit is already reserved) and answer 202."""
        platform = self.platform
        try:
            callback_url = callback_ip = None
            for name, value in scope["headers"]:
                if name == CALLBACK_HEADER:
                    callback_url = value.decode("latin-1").strip()
            if callback_url:
                callback_ip = await self.check_callback(callback_url)
            gw = self.gateway
            call_id = f"{gw._id_prefix}{next(gw._id_counter):08x}"
            call = AsyncCall(
                id=call_id, user_id=user.id, api_id=route.api_id, api_name=route.name,
                key_id=entry.id, month=month, state=QUEUED, input=body,
                callback_url=callback_url or None, callback_ip=callback_ip, version_id=None,
                created_at=time.time(), started_at=None, finished_at=None, http_status=None,
                envelope=None, callback_state=None, callback_attempts=0,
            )  # fmt: skip
            await self.repo.add(call)  # durable before the 202
        except BaseException:
            platform.quota.release(user.id, month)
            raise
        platform.spawn(self._run(call))
        url = self.url_of(route.user, route.name, call_id, scope)
        payload = json.dumps(
            {
                "statusCode": 202,
                "body": {"invocation_id": call_id, "status": QUEUED, "url": url},
            }
        ).encode()
        await _send(
            send,
            202,
            payload,
            extra=[
                (b"location", url.encode()),
                (b"preference-applied", b"respond-async"),
                (b"access-control-expose-headers", b"retry-after, location"),
            ],
        )
        if time.time() - self._pruned_at > PRUNE_EVERY_SECONDS:
            platform.spawn(self.prune())
        return 202

    def url_of(self, user: str, api: str, call_id: str, scope=None) -> str:
        base = self.platform.public_url
        if not base and scope is not None:
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            base = f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"
        return f"{base or ''}/{user}/{api}/invocations/{call_id}"

    # -- the background run ---------------------------------------------------------------
    async def _run(self, call: AsyncCall) -> None:
        platform = self.platform
        try:
            route = next((r for r in platform.routes.all() if r.api_id == call.api_id), None)
            if route is None or route.live is None:
                # The API was deleted (or undeployed) before its turn: nothing to meter.
                platform.quota.release(call.user_id, call.month)
                await self._finish(
                    call,
                    FAILED,
                    404,
                    envelope_error(
                        404, "not_found",
                        f"The API {call.api_name!r} was deleted before this call ran.", call.id,
                    ),
                )  # fmt: skip
                return
            # At most max_workers asynchronous calls of an API are handed to the engine at once;
            # the rest stay queued here (a restart runs them) rather than in the engine's queue.
            slots = self._slots.get(call.api_id)
            if slots is None:
                slots = self._slots[call.api_id] = asyncio.Semaphore(self._workers_of(route))
            async with slots:
                await self._run_now(call, route)
        except asyncio.CancelledError:
            raise  # the platform is stopping: the row stays as it is, settled at the next start
        except Exception:
            log.exception("asynchronous call %s failed in the platform", call.id)

    async def _run_now(self, call: AsyncCall, route) -> None:
        platform = self.platform
        live = route.enter()
        try:
            await self.repo.started(call.id, time.time(), live.id)
            started = time.perf_counter()
            ts = time.time()
            try:
                result = await platform.engine.invoke(
                    live.engine_id, call.input, call.id, timeout=self._timeout_of(live)
                )
            except UnknownVersionError:
                result = InvocationResult(
                    "crashed",
                    error_type="Redeploying",
                    error_message="The API switched versions as this call started; submit it again.",
                )
        finally:
            route.leave(live)
        latency_ms = (time.perf_counter() - started) * 1000.0
        # The one metering row and quota settle of this call (the synchronous rule).
        try:
            await self.gateway._record(
                route, live, call.id, call.user_id, call.key_id, ts, call.month, call.input,
                result, latency_ms, False,
            )  # fmt: skip
        except GatewayError as err:  # not recorded (the metering process ended): not counted
            envelope = envelope_error(err.status, err.type, err.message, call.id)
            await self._finish(call, FAILED, err.status, envelope)
            return
        status = result.http_code
        if status == 200:
            envelope = envelope_output(result.output_json or b"null", call.id)
        else:
            envelope = envelope_error(
                status,
                result.error_type or result.status,
                result.error_message or "The handler failed; see `hub logs`.",
                call.id,
            )
        await self._finish(call, SUCCEEDED if status == 200 else FAILED, status, envelope)

    def _workers_of(self, route) -> int:
        live = route.live
        record = self.platform.version(live.id) if live is not None else None
        runtime = (record.runtime if record is not None else None) or {}
        value = runtime.get("max_workers") or self.platform.config.engine.runtime.max_workers
        return max(1, int(value))

    def _timeout_of(self, live) -> float:
        record = self.platform.version(live.id)
        runtime = (record.runtime if record is not None else None) or {}
        value = runtime.get("async_timeout_seconds")
        if value is None:
            value = getattr(self.platform.config.engine.runtime, "async_timeout_seconds", None)
        return float(value or DEFAULT_ASYNC_TIMEOUT)

    async def _finish(self, call: AsyncCall, state: str, status: int, envelope: bytes) -> None:
        limit = self.settings.max_output_bytes
        if len(envelope) > limit:
            state, status = FAILED, 507
            envelope = envelope_error(
                507,
                "output_too_large",
                f"The output has {len(envelope)} bytes, more than the {limit} this platform keeps "
                "for an asynchronous call; return less, or call the API synchronously.",
                call.id,
            )
        now = time.time()
        await self.repo.finished(call.id, state, now, status, envelope, bool(call.callback_url))
        call.state, call.http_status, call.envelope, call.finished_at = state, status, envelope, now
        if call.callback_url:
            await self._deliver(call)

    async def _interrupted(self, call: AsyncCall) -> None:
        """A call that was running when the last process died: reported failed, metered once."""
        row = self.repo.metered(call.id)
        if row is not None:  # the old process metered it and died before the last update
            status = int(row["status"])
            if status == 200 and row["output_truncated"]:
                # Only the history's cut copy of the output is left: say so, do not cut JSON.
                status = 502
                envelope = envelope_error(
                    502,
                    "Interrupted",
                    "The call succeeded, but the platform stopped before keeping its output; "
                    "submit it again.",
                    call.id,
                )
            elif status == 200 and row["output"] is not None:
                output = row["output"]
                output = output.encode() if isinstance(output, str) else bytes(output)
                envelope = envelope_output(output, call.id)
            else:
                envelope = envelope_error(
                    status,
                    row["error_type"] or "error",
                    row["error_message"] or INTERRUPTED,
                    call.id,
                )
            await self._finish(call, SUCCEEDED if status == 200 else FAILED, status, envelope)
            return
        result = InvocationResult("crashed", error_type="Interrupted", error_message=INTERRUPTED)
        route = SimpleNamespace(api_id=call.api_id, name=call.api_name)
        live = SimpleNamespace(id=call.version_id)
        self.platform.quota.try_reserve(call.user_id, None, call.month)
        ts = call.started_at or call.created_at
        await self.gateway._record(
            route, live, call.id, call.user_id, call.key_id, ts, call.month, call.input, result,
            0.0, False,
        )  # fmt: skip
        await self._finish(
            call, FAILED, 502, envelope_error(502, "Interrupted", INTERRUPTED, call.id)
        )

    # -- GET <user>/<api>/invocations/<id> ------------------------------------------------
    async def fetch(self, scope, parts: list[str], send):
        """Answer the state or the result of one call; returns (api counts, HTTP status)."""
        user_name, api_name, _, call_id = parts
        if scope["method"] not in ("GET", "HEAD"):
            raise GatewayError(
                405,
                "method_not_allowed",
                f"{scope['method']} is not supported on an invocation; GET it.",
                headers=[(b"allow", b"GET, HEAD")],
            )
        platform = self.platform
        presented = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                if presented is not None:
                    raise GatewayError(
                        400,
                        "bad_request",
                        "The request has more than one x-api-key header; send exactly one.",
                    )
                presented = value.decode("latin-1").strip()
        if not presented:
            raise GatewayError(
                401,
                "missing_key",
                "The request has no x-api-key header; send your API key in it (see `hub keys list`).",
            )
        entry = platform.keys.verify(presented)
        if entry is None or not entry.enabled:
            raise GatewayError(
                403,
                "invalid_key",
                "The API key is not valid or disabled; check it with `hub keys list`.",
            )
        owner = platform.user_by_name(user_name)
        if owner is None or entry.user_id != owner.id:
            raise GatewayError(
                403,
                "forbidden",
                f"This API key does not belong to {user_name}; a key reads only its owner's invocations.",
            )
        call = self.repo.get(call_id)
        if call is None or call.user_id != owner.id or call.api_name != api_name:
            raise GatewayError(
                404,
                "not_found",
                f"{api_name} has no asynchronous invocation {call_id!r} (results are kept "
                f"{self.settings.retention_days:g} days).",
            )
        url = self.url_of(user_name, api_name, call_id, scope)
        if call.state in DONE and call.envelope is not None:
            envelope = json.loads(call.envelope)
            envelope["body"]["status"] = call.state
            status = int(envelope.get("statusCode") or call.http_status or 200)
        else:
            status = 200
            envelope = {
                "statusCode": 200,
                "body": {
                    "invocation_id": call_id,
                    "status": call.state,
                    "url": url,
                    "submitted_at": _iso(call.created_at),
                    "started_at": _iso(call.started_at) if call.started_at else None,
                },
            }
        await _send(send, status, json.dumps(envelope).encode())
        return None, status

    # -- callbacks ------------------------------------------------------------------------
    async def check_callback(self, url: str) -> str:
        """The address to POST to, or a 400 GatewayError saying what is wrong with ``url``."""

        def refuse(why: str) -> GatewayError:
            return GatewayError(
                400,
                "bad_callback_url",
                f"The Hub-Callback-Url {url[:200]!r} {why}; name a public http(s) URL.",
            )

        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise refuse("is not a valid URL") from None
        if parts.scheme not in ("http", "https"):
            raise refuse("is not an http or https URL")
        if not parts.hostname:
            raise refuse("has no host")
        if parts.username or parts.password:
            raise refuse("carries credentials")
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            raise refuse("names a host that does not resolve") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        own = self._own_addresses()
        for address in addresses:
            if any(address in net for net in self.settings.callback_allow):
                continue
            if not address.is_global or address.is_multicast or address in own:
                raise refuse(
                    f"resolves to {address}, a loopback, private, link-local or the platform's "
                    "own address, which callbacks may not reach (an operator may allow networks "
                    "with the platform config's async.callback_allow)"
                )
        return str(addresses[0])

    def _own_addresses(self) -> set:
        own = set()
        base = self.platform.public_url
        if base:
            host = urlsplit(base).hostname
            try:
                own.add(ipaddress.ip_address(host))
            except (TypeError, ValueError):
                try:
                    for info in socket.getaddrinfo(host, None):
                        own.add(ipaddress.ip_address(info[4][0].split("%")[0]))
                except OSError:
                    pass
        return own

    async def _deliver(self, call: AsyncCall) -> None:
        """POST the envelope to the call's callback URL (retries with back-off), signed."""
        import httpx

        key = None
        if call.key_id:
            key = self.platform.keys.reveal(call.user_id, call.key_id)
        body = call.envelope or b""
        parts = urlsplit(call.callback_url)
        ip = ipaddress.ip_address(call.callback_ip)
        host = f"[{ip}]" if ip.version == 6 else str(ip)
        port = parts.port
        target = f"{parts.scheme}://{host}{':' + str(port) if port else ''}{parts.path or '/'}"
        if parts.query:
            target += "?" + parts.query
        host_header = parts.netloc.rsplit("@", 1)[-1]
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        attempts = 0
        delivered = False
        async with httpx.AsyncClient(
            timeout=10.0, follow_redirects=False, trust_env=False
        ) as client:
            while attempts < self.settings.callback_attempts and not delivered:
                if attempts:
                    await asyncio.sleep(self.settings.callback_backoff * 4 ** (attempts - 1))
                attempts += 1
                stamp = str(int(time.time()))
                headers = {
                    "content-type": "application/json",
                    "host": host_header,
                    "user-agent": "hub-api-platform",
                    "hub-invocation-id": call.id,
                    "hub-signature": f"t={stamp},v1={sign(key or '', stamp, body)}",
                }
                try:
                    resp = await client.post(
                        target, content=body, headers=headers, extensions=extensions
                    )
                    delivered = 200 <= resp.status_code < 300
                    if not delivered:
                        log.warning(
                            "callback of %s answered %s (try %d)",
                            call.id,
                            resp.status_code,
                            attempts,
                        )
                except httpx.HTTPError as err:
                    log.warning("callback of %s failed (try %d): %s", call.id, attempts, err)
        await self.repo.callback_done(call.id, "delivered" if delivered else "failed", attempts)


def sign(key: str, stamp: str, body: bytes) -> str:
    """The ``v1`` of ``Hub-Signature``: hex HMAC-SHA256 of ``<stamp>.<body>`` keyed with the
    API key the call was made with."""
    return hmac.new(key.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
