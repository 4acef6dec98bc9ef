"""``/hub-api/platform/...``: the deployments panel's view of the platform, passed through.

Every call goes through the platform client (``jupyter_hub_api.client.api``) with the user's
platform token (``HUB_PLATFORM_TOKEN``, or the embedded platform's token file), in a thread so
the server's event loop never waits on the network. The platform's errors keep their sentence;
a platform that cannot be reached is a 503 that says so.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any

from tornado import web

from ..client.api import PlatformClient, api_endpoint, call_api, check_key, connect
from ..errors import HubError, UsageError
from .base import MAX_INT, HubAPIHandler, body_field

# Platform-client error types and the status the panel gets for them.
_STATUS_BY_TYPE = {
    "platform_unreachable": 503,
    "platform_down": 503,
    "platform_timeout": 504,
    "no_token": 503,
}


class PlatformHandler(HubAPIHandler):
    """Runs one platform-client call in a thread and answers its result as JSON."""

    async def call(self, fn: Callable[[PlatformClient], Any]) -> Any:
        """``fn(client)`` in a worker thread, with platform errors mapped to our statuses."""
        autostart = self.hub.app.platform_autostart

        def run() -> Any:
            with connect(autostart=autostart) as client:
                return fn(client)

        try:
            return await asyncio.to_thread(run)
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

    async def answer(self, fn: Callable[[PlatformClient], Any], status: int = 200) -> None:
        """Call the platform and write what it answered."""
        self.write_json(await self.call(fn), status=status)


_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def _api_name(name: str) -> str:
    if not name or "/" in name or name in (".", ".."):
        raise UsageError(f"{name!r} is not an API name.", type="bad_name")
    return name


class MeHandler(PlatformHandler):
    """``GET``: who the platform thinks we are, our plan, and its gateway URL."""

    @web.authenticated
    async def get(self) -> None:
        await self.answer(lambda c: c.me())


class ApisHandler(PlatformHandler):
    """``GET``: every API with its status, version, endpoint and usage."""

    @web.authenticated
    async def get(self) -> None:
        await self.answer(lambda c: c.list_apis())


class ApiHandler(PlatformHandler):
    """``GET`` one API; ``DELETE`` removes it (and its versions) from the platform."""

    @web.authenticated
    async def get(self, name: str) -> None:
        await self.answer(lambda c: c.api(_api_name(name)))

    @web.authenticated
    async def delete(self, name: str) -> None:
        await self.answer(lambda c: c.delete_api(_api_name(name)))


class VersionsHandler(PlatformHandler):
    """``GET``: the versions of an API, the live one marked."""

    @web.authenticated
    async def get(self, name: str) -> None:
        await self.answer(lambda c: c.versions(_api_name(name)))


class RollbackHandler(PlatformHandler):
    """``POST {"version": "..."}``: make an earlier version live (no version: the previous)."""

    @web.authenticated
    async def post(self, name: str) -> None:
        version = body_field(self.read_json(), "version", (str, type(None)), None, "a string")
        await self.answer(lambda c: c.rollback(_api_name(name), version))


class InvocationsHandler(PlatformHandler):
    """``GET ?limit=``: the invocation history of an API, newest first."""

    @web.authenticated
    async def get(self, name: str) -> None:
        limit = self.int_argument("limit", 50, minimum=1, maximum=1000)
        await self.answer(lambda c: c.invocations(_api_name(name), limit))


class LogsHandler(PlatformHandler):
    """``GET ?tail=&after=&limit=&invocation_id=``: log lines of an API's workers."""

    @web.authenticated
    async def get(self, name: str) -> None:
        params: dict[str, Any] = {}
        # The platform's own bounds, checked here so the answer is ours and the same.
        for key, low, high in (("tail", 0, 100_000), ("after", 0, MAX_INT), ("limit", 1, 5000)):
            if self.get_argument(key, None) is not None:
                params[key] = self.int_argument(key, 0, minimum=low, maximum=high)
        if self.get_argument("invocation_id", None):
            params["invocation_id"] = self.get_argument("invocation_id")
        await self.answer(lambda c: c.logs(_api_name(name), **params))


class InvokeHandler(PlatformHandler):
    """``POST {"method": "GET"|"POST", "body": <json>, "api_key" | "key_id": optional}``: a test call.

    Calls the API through the gateway exactly as any client does (``x-api-key``), with the
    given key, the key ``key_id``, or the user's first enabled key; answers ``{"status",
    "body", "duration_ms", "endpoint"}`` where ``body`` is the API's envelope. The API's own
    error statuses are data here, not errors of this request.
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
        if api_key is not None:
            check_key(api_key)  # a 400 before the platform is asked anything
        api = _api_name(name)
        timeout = self.hub.app.invoke_timeout

        def invoke(client: PlatformClient) -> dict:
            key = api_key or (client.reveal_key(key_id) if key_id else client.default_key())
            endpoint = api_endpoint(client.me(), api)
            started = time.monotonic()
            status, envelope = call_api(endpoint, key, payload, timeout=timeout)
            return {
                "status": status,
                "body": envelope,
                "duration_ms": round((time.monotonic() - started) * 1000, 2),
                "endpoint": endpoint,
            }

        await self.answer(invoke)


class UsageHandler(PlatformHandler):
    """``GET ?month=YYYY-MM``: calls this month against the plan's quota, per API."""

    @web.authenticated
    async def get(self) -> None:
        month = self.get_argument("month", None)
        if month is not None and not _MONTH.fullmatch(month):
            raise UsageError(
                f"The month {month[:20]!r} is not a month; write it as 2026-11.",
                type="bad_argument",
            )
        await self.answer(lambda c: c.usage(month))


class KeysHandler(PlatformHandler):
    """``GET`` the user's API keys (masked); ``POST {"name"}`` creates one (its secret once)."""

    @web.authenticated
    async def get(self) -> None:
        await self.answer(lambda c: {"keys": c.keys()})

    @web.authenticated
    async def post(self) -> None:
        # "key" is the platform's own default name.
        name = body_field(self.read_json(), "name", str, "key", "a string")
        await self.answer(lambda c: c.create_key(name), status=201)


class KeyHandler(PlatformHandler):
    """``PATCH {"enabled": bool}`` enables or disables a key; ``DELETE`` deletes it."""

    @web.authenticated
    async def patch(self, key_id: str) -> None:
        enabled = self.read_json().get("enabled")
        if not isinstance(enabled, bool):
            raise UsageError("Give 'enabled': true or false.", type="bad_request")
        await self.answer(lambda c: {"key": c.set_key_enabled(key_id, enabled)})

    @web.authenticated
    async def delete(self, key_id: str) -> None:
        await self.answer(lambda c: c.delete_key(key_id))


class KeyRevealHandler(PlatformHandler):
    """``POST``: the key in full, for the panel's reveal / copy button (never logged)."""

    @web.authenticated
    async def post(self, key_id: str) -> None:
        await self.answer(lambda c: {"id": key_id, "secret": c.reveal_key(key_id)})


class KeyStateHandler(PlatformHandler):
    """``POST .../enable`` or ``.../disable``: the same as ``PATCH``, for simple clients."""

    @web.authenticated
    async def post(self, key_id: str, action: str) -> None:
        await self.answer(lambda c: {"key": c.set_key_enabled(key_id, action == "enable")})
