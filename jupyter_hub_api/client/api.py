"""The HTTP client of the platform's control plane and gateway.

One set of calls (``_ControlPlane``) with two ways of sending them: :class:`PlatformClient`
for the CLI (synchronous) and :class:`AsyncPlatformClient` for the server extension, which
keeps one for its lifetime. :func:`connect` / :func:`credentials` find the platform:
``HUB_PLATFORM_URL`` (default ``http://127.0.0.1:8470``) and its token, ``HUB_PLATFORM_TOKEN``
or, for the embedded platform, the token file it wrote in the data directory. The embedded
platform is started when it is not running. Every error becomes a :class:`HubError` with one
sentence (the platform's own, when it sent one).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from .. import paths
from ..errors import UsageError, WorkError
from . import embedded

TOKEN_ENV = "HUB_PLATFORM_TOKEN"


class _ControlPlane:
    """Every control-plane call, written once over :meth:`_call`.

    :class:`PlatformClient` (the CLI's) answers each at once; :class:`AsyncPlatformClient`
    (the server extension's) gives an awaitable of the same answer. Only the I/O differs.
    """

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token
        # Sent to the control plane only, never with a call of a user's API (call_api).
        self.auth = {"Authorization": f"Bearer {token}"}

    def _http_options(self, timeout: float | None) -> dict:
        # trust_env=False: no proxy from the environment sees the token.
        return {"base_url": self.url, "timeout": timeout, "trust_env": False}

    def _call(self, method: str, path: str, pick: str | None = None, **kw) -> Any:
        """Send a request; its decoded JSON (or the field ``pick`` of it)."""
        raise NotImplementedError

    def get(self, path: str, **kw) -> Any:
        """GET ``path``."""
        return self._call("GET", path, **kw)

    def post(self, path: str, body: dict | None = None, **kw) -> Any:
        """POST ``body`` as JSON to ``path``."""
        return self._call("POST", path, json=body if body is not None else {}, **kw)

    def me(self) -> dict:
        """The caller, plan and counts."""
        return self.get("/api/v1/me")

    def list_apis(self) -> dict:
        """Every API of the caller with status and usage."""
        return self.get("/api/v1/apis")

    def api(self, name: str) -> dict:
        """One API."""
        return self.get(f"/api/v1/apis/{segment(name)}")

    def versions(self, name: str) -> dict:
        """The versions of an API."""
        return self.get(f"/api/v1/apis/{segment(name)}/versions")

    def rollback(self, name: str, version: str | None) -> dict:
        """Make an earlier version live."""
        return self.post(
            f"/api/v1/apis/{segment(name)}/rollback", {"version": version}, timeout=None
        )

    def delete_api(self, name: str) -> dict:
        """Remove an API."""
        return self._call("DELETE", f"/api/v1/apis/{segment(name)}", timeout=None)

    def invocations(self, name: str, limit: int = 50) -> dict:
        """The invocation history of an API."""
        return self.get(f"/api/v1/apis/{segment(name)}/invocations", params={"limit": limit})

    def logs(self, name: str, **params) -> dict:
        """Log lines of an API (``tail``, ``after``, ``limit``, ``invocation_id``)."""
        return self.get(f"/api/v1/apis/{segment(name)}/logs", params=params)

    def usage(self, month: str | None = None) -> dict:
        """This month's (or ``month``'s) usage."""
        return self.get("/api/v1/usage", params={"month": month} if month else None)

    def keys(self) -> list[dict]:
        """The caller's keys (masked)."""
        return self._call("GET", "/api/v1/keys", pick="keys")

    def create_key(self, name: str) -> dict:
        """A new key: ``{"key": {...}, "secret": "..."}``."""
        return self.post("/api/v1/keys", {"name": name})

    def reveal_key(self, key_id: str) -> str:
        """A key in full."""
        return self._call("POST", f"/api/v1/keys/{segment(key_id)}/reveal", pick="secret", json={})

    def set_key_enabled(self, key_id: str, enabled: bool) -> dict:
        """Enable or disable a key."""
        path = f"/api/v1/keys/{segment(key_id)}"
        return self._call("PATCH", path, pick="key", json={"enabled": enabled})

    def delete_key(self, key_id: str) -> dict:
        """Delete a key."""
        return self._call("DELETE", f"/api/v1/keys/{segment(key_id)}")


class PlatformClient(_ControlPlane):
    """A session with one platform (``url`` + ``token``) for synchronous code: the CLI."""

    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        super().__init__(url, token)
        self.http = httpx.Client(**self._http_options(timeout))

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, method: str, path: str, **kw) -> Any:
        """Send a control-plane request; return the decoded JSON or raise a HubError."""
        kw["headers"] = {**self.auth, **(kw.get("headers") or {})}
        try:
            resp = self.http.request(method, path, **kw)
        except httpx.HTTPError as err:
            raise transport_error(self.url, err) from None
        return decode(resp)

    def _call(self, method: str, path: str, pick: str | None = None, **kw) -> Any:
        body = self.request(method, path, **kw)
        return body[pick] if pick else body

    def default_key(self) -> str:
        """The user's first enabled key in full (what ``hub invoke`` calls with)."""
        return self.reveal_key(first_enabled_key(self.keys()))

    def follow_logs(self, name: str, after: int = 0, tail: int | None = None) -> Iterator[dict]:
        """Yield log lines of an API as they are printed (until interrupted)."""
        params: dict = {"follow": "1"}
        if tail is not None and not after:
            params["tail"] = tail
        else:
            params["after"] = after
        try:
            with self.http.stream(
                "GET",
                f"/api/v1/apis/{segment(name)}/logs",
                params=params,
                headers=self.auth,
                timeout=httpx.Timeout(30.0, read=None),
            ) as resp:
                if resp.status_code != 200:
                    resp.read()
                    decode(resp)
                for line in resp.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.HTTPError as err:
            raise WorkError(
                f"The log stream from {self.url} ended ({type(err).__name__}).",
                type="platform_unreachable",
            ) from None


class AsyncPlatformClient(_ControlPlane):
    """The same session for asyncio code: the Jupyter server extension keeps one for its
    lifetime, so its calls share pooled keep-alive connections.

    Make it with ``AsyncPlatformClient(*credentials())``; run :func:`credentials` in a thread,
    as it may start the embedded platform and wait for it.
    """

    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        super().__init__(url, token)
        # Idle connections are dropped before the platform's keep-alive deadline (20 s) would.
        limits = httpx.Limits(max_keepalive_connections=20, keepalive_expiry=15.0)
        self.http = httpx.AsyncClient(**self._http_options(timeout), limits=limits)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def send(self, method: str, path: str, **kw) -> tuple[int, Any]:
        """Send a control-plane request; ``(status, decoded JSON)`` or raise a HubError."""
        kw["headers"] = {**self.auth, **(kw.get("headers") or {})}
        try:
            resp = await self.http.request(method, path, **kw)
        except httpx.HTTPError as err:
            raise transport_error(self.url, err) from None
        return resp.status_code, decode(resp)

    async def request(self, method: str, path: str, **kw) -> Any:
        """Send a control-plane request; return the decoded JSON or raise a HubError."""
        return (await self.send(method, path, **kw))[1]

    async def _call(self, method: str, path: str, pick: str | None = None, **kw) -> Any:
        body = await self.request(method, path, **kw)
        return body[pick] if pick else body

    async def default_key(self) -> str:
        """The user's first enabled key in full."""
        return await self.reveal_key(first_enabled_key(await self.keys()))

    async def call_api(
        self, endpoint: str, key: str | None, payload: bytes | None, timeout: float | None = None
    ) -> tuple[int, dict]:
        """:func:`call_api` over this session's connections (without its token)."""
        try:
            resp = await self.http.request(**_gateway_call(endpoint, key, payload), timeout=timeout)
        except httpx.HTTPError as err:
            raise _gateway_unreachable(endpoint, err) from None
        return _envelope(resp)

    # -- async --
    async def submit_async(
        self, endpoint: str, key: str, payload: bytes, callback_url: str | None = None
    ) -> tuple[int, dict]:
        """:func:`submit_async` over this session's connections (without its token)."""
        call = _gateway_call(endpoint, key, payload)
        call["headers"]["Prefer"] = "respond-async"
        if callback_url:
            call["headers"]["Hub-Callback-Url"] = callback_url
        try:
            resp = await self.http.request(**call, timeout=60)
        except httpx.HTTPError as err:
            raise _gateway_unreachable(endpoint, err) from None
        return _envelope(resp)

    async def get_invocation(self, url: str, key: str) -> tuple[int, dict]:
        """:func:`get_invocation` over this session's connections (without its token)."""
        try:
            resp = await self.http.get(url, headers={"x-api-key": check_key(key)}, timeout=60)
        except httpx.HTTPError as err:
            raise _gateway_unreachable(url, err) from None
        return _envelope(resp)

    # -- end async --


def first_enabled_key(keys: list[dict]) -> str:
    """The id of the first enabled key of ``keys``, or a UsageError saying how to get one."""
    for key in keys:
        if key["enabled"]:
            return key["id"]
    raise UsageError(
        "You have no enabled API key.",
        type="no_key",
        hint="Create one with `hub keys create` or enable one with `hub keys enable <id>`.",
    )


def decode(resp: httpx.Response) -> Any:
    """The JSON of a control-plane response, or the HubError it carries."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code < 400:
        return body
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and err.get("message"):
        # 401: the token given (HUB_PLATFORM_TOKEN) is wrong: bad input, exit 2.
        cls = UsageError if resp.status_code in (400, 401, 404, 409, 413, 422) else WorkError
        raise cls(
            err["message"],
            type=err.get("type", "error"),
            status=resp.status_code,
            field=err.get("field"),
        )
    raise WorkError(
        f"The platform answered HTTP {resp.status_code} to {resp.request.method} {resp.request.url.path}.",
        type="platform_error",
        status=resp.status_code,
    )


class PlatformUnreachable(WorkError):
    """No connection to the platform could be made: nothing was sent, so a retry is safe."""


def transport_error(url: str, err: httpx.HTTPError) -> WorkError:
    """The one sentence for a request that got no answer from the platform."""
    if isinstance(err, httpx.TimeoutException):
        return WorkError(f"The platform at {url} did not answer in time.", type="platform_timeout")
    cls = PlatformUnreachable if isinstance(err, httpx.ConnectError) else WorkError
    return cls(
        f"The platform at {url} is not reachable ({type(err).__name__}).",
        type="platform_unreachable",
        hint="Start it with `hub platform start`, or check HUB_PLATFORM_URL.",
    )


def platform_url() -> str:
    """The platform's base URL, or a UsageError when ``HUB_PLATFORM_URL`` is not an http(s) URL."""
    url = paths.platform_url()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fix = f"http://{url}" if "://" not in url else "http://127.0.0.1:8470"
        raise UsageError(
            f"HUB_PLATFORM_URL is {url!r}, which is not an http:// or https:// URL.",
            type="bad_platform_url",
            hint=f"Set it with its scheme, e.g. export HUB_PLATFORM_URL={fix}.",
        )
    return url


def connect(autostart: bool = True) -> PlatformClient:
    """A client of the configured platform, starting the embedded one when needed."""
    return PlatformClient(*credentials(autostart))


def credentials(autostart: bool = True) -> tuple[str, str]:
    """``(url, token)`` of the configured platform (starting the embedded one when needed).

    It may wait for the embedded platform to start: call it in a thread from asyncio code.
    """
    url = platform_url()
    token = os.environ.get(TOKEN_ENV)
    if token:
        return url, token
    # -- JupyterHub (hubhub): a single-user server of a hub whose platform is a service --
    hub_token = jupyterhub_token()
    if hub_token:
        return url, hub_token
    # -- end JupyterHub --
    if not embedded.is_loopback(url):
        raise UsageError(
            f"HUB_PLATFORM_URL points at a remote platform ({url}) but no token is set.",
            type="no_token",
            hint="Set HUB_PLATFORM_TOKEN to the token your platform's administrator gave you.",
        )
    if autostart:
        embedded.ensure_running(url)
    else:
        state, health = embedded.probe(url)
        if state == "other":
            raise embedded.port_in_use_error(url)
        if state == "down":
            raise WorkError(
                f"The Hub platform is not running at {url}.",
                type="platform_down",
                hint="Start it with `hub platform start`.",
            )
    token_path = paths.platform_dir() / "token"
    try:
        token = token_path.read_text().strip()
    except OSError:
        raise WorkError(
            f"The platform's token file {token_path} cannot be read.",
            type="no_token",
            hint="Restart the platform with `hub platform stop && hub platform start`.",
        ) from None
    return url, token


# -- JupyterHub (hubhub) --
def jupyterhub_token() -> str | None:
    """The JupyterHub token to call the platform with, or None.

    Under JupyterHub (``JUPYTERHUB_API_TOKEN``, the single-user server's own token, inherited by
    the jobs it runs) with ``HUB_PLATFORM_URL`` set by the operator (docs/jupyterhub.md), the
    platform is the hub's shared service and takes the user's hub token: no secret of its own
    is copied to anyone, and no embedded platform is started.
    """
    if os.environ.get("HUB_PLATFORM_URL") and os.environ.get("JUPYTERHUB_API_TOKEN"):
        return os.environ["JUPYTERHUB_API_TOKEN"]
    return None


# -- end JupyterHub --


def call_api(
    endpoint: str, key: str, payload: bytes | None, timeout: float | None = None
) -> tuple[int, dict]:
    """Call an API's endpoint (POST with ``payload``, GET without) and return (status, envelope)."""
    try:
        with httpx.Client(trust_env=False) as http:
            resp = http.request(**_gateway_call(endpoint, key, payload), timeout=timeout)
    except httpx.HTTPError as err:
        raise _gateway_unreachable(endpoint, err) from None
    return _envelope(resp)


# -- async: Prefer: respond-async (platform/async_invocations.py) --
def submit_async(
    endpoint: str, key: str, payload: bytes, callback_url: str | None = None
) -> tuple[int, dict]:
    """POST ``payload`` with ``Prefer: respond-async``: the 202 envelope (``body``:
    ``invocation_id``, ``status`` "queued", ``url``) or the refusal's, with its status."""
    call = _gateway_call(endpoint, key, payload)
    call["headers"]["Prefer"] = "respond-async"
    if callback_url:
        call["headers"]["Hub-Callback-Url"] = callback_url
    try:
        with httpx.Client(trust_env=False) as http:
            resp = http.request(**call, timeout=60)
    except httpx.HTTPError as err:
        raise _gateway_unreachable(endpoint, err) from None
    return _envelope(resp)


def get_invocation(url: str, key: str) -> tuple[int, dict]:
    """An asynchronous call's state (``body.status`` queued / running) or, once done, its
    envelope with ``body.status`` succeeded / failed; (HTTP status, envelope)."""
    try:
        with httpx.Client(trust_env=False) as http:
            resp = http.get(url, headers={"x-api-key": check_key(key)}, timeout=60)
    except httpx.HTTPError as err:
        raise _gateway_unreachable(url, err) from None
    return _envelope(resp)


def wait_invocation(
    url: str, key: str, timeout: float | None = None, poll: float = 0.5
) -> tuple[int, dict]:
    """Fetch ``url`` until the call is done (or ``timeout`` seconds passed: the last state)."""
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        status, envelope = get_invocation(url, key)
        body = envelope.get("body") if isinstance(envelope, dict) else None
        state = body.get("status") if isinstance(body, dict) else None
        if state not in ("queued", "running"):
            return status, envelope
        if deadline is not None and time.monotonic() >= deadline:
            return status, envelope
        time.sleep(poll)
        poll = min(poll * 1.5, 5.0)


# -- end async --


def _gateway_call(endpoint: str, key: str | None, payload: bytes | None) -> dict:
    """The request of a call of a user's API, as any client of the hosted service makes it.

    ``key`` None sends no ``x-api-key`` at all: what a caller without a key gets.
    """
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["x-api-key"] = check_key(key)
    return {
        "method": "GET" if payload is None else "POST",
        "url": endpoint,
        "headers": headers,
        "content": payload,
    }


def _gateway_unreachable(endpoint: str, err: httpx.HTTPError) -> WorkError:
    return WorkError(
        f"The API at {endpoint} is not reachable ({type(err).__name__}).",
        type="platform_unreachable",
    )


def _envelope(resp: httpx.Response) -> tuple[int, dict]:
    try:
        envelope = resp.json()
    except ValueError:
        raise WorkError(
            f"The API answered HTTP {resp.status_code} without a JSON envelope.",
            type="bad_response",
        ) from None
    return resp.status_code, envelope


def api_error(status: int, envelope: Any) -> UsageError | WorkError:
    """The error an API's answer carries: no such API (404) is bad input, the rest its work."""
    inner = envelope.get("body") if isinstance(envelope, dict) else None
    err = (inner or {}).get("error") or {}
    cls = UsageError if status == 404 else WorkError
    return cls(
        err.get("message") or f"The API answered HTTP {status}.",
        type=err.get("type") or "api_error",
        status=status,
    )


def api_endpoint(me: dict, name: str) -> str:
    """The gateway URL of the user's API ``name``, from the platform's ``me()`` answer."""
    return f"{me['gateway_url']}/{segment(me['user'])}/{segment(name)}"


# What a key may hold: visible ASCII, as in an HTTP header value without spaces.
_KEY_CHARS = re.compile(r"[\x21-\x7e]+")


def check_key(key: str) -> str:
    """``key`` if it can be an API key; else a 400 (httpx would raise UnicodeEncodeError for
    non-ASCII, or fail to send a CR/LF, and either would look like a broken platform)."""
    if not _KEY_CHARS.fullmatch(key):
        raise UsageError(
            "The API key holds characters no key has (spaces, line breaks or non-ASCII); "
            "copy the key again.",
            type="bad_key",
        )
    return key


def segment(value: str) -> str:
    """``value`` as one encoded path segment, refusing anything that could change the path."""
    if not value or "/" in value or value in (".", ".."):
        raise UsageError(f"{value!r} is not a valid name.", type="bad_name")
    return quote(value, safe="")


# -- streaming calls (batch helper) -------------------------------------------------------------


def stream_events(endpoint: str, key: str, payload: bytes, timeout: float | None = None):
    """POST ``payload`` with ``Accept: text/event-stream``; yield ``(event, data)`` as they come.

    ``data`` is the decoded JSON of each Server-Sent Event (ARCHITECTURE.md, streaming): a
    ``start``, one ``message`` per output, then ``end`` or ``error``. A refusal before the
    stream began (the usual JSON envelope) raises the error it names.
    """
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if key is not None:
        headers["x-api-key"] = key
    try:
        with (
            httpx.Client(trust_env=False) as http,
            http.stream(
                "POST", endpoint, headers=headers, content=payload, timeout=timeout
            ) as resp,
        ):
            if not resp.headers.get("content-type", "").startswith("text/event-stream"):
                resp.read()
                raise api_error(*_envelope(resp))
            event, data = "message", []
            for line in resp.iter_lines():
                if line == "":
                    if data:
                        yield event, json.loads("\n".join(data))
                    event, data = "message", []
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
    except httpx.HTTPError as err:
        raise _gateway_unreachable(endpoint, err) from None
