"""The platform's ASGI application: the control plane under ``/api/v1``, the gateway elsewhere.

The split is by path prefix before any framework code runs, so an API call pays for no routing
table: ``/healthz``, ``/readyz`` and ``/api/v1/...`` go to the Starlette control plane, every
other path to the gateway (``/<user>/<api>``). A consequence: a user called ``api`` cannot have
an API called ``v1``.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .control import Control
from .deploy import Deployer
from .gateway import Gateway
from .http import send_busy
from .hubauth import HubIdentity
from .metrics import make_registry, metrics_app
from .operations import http_error
from .service import Platform

log = logging.getLogger("hub.platform")

CONTROL_PREFIX = "/api/v1/"
METRICS_PATH = "/metrics"  # not an API's path: those are /<user>/<api>
HEALTH_PATHS = ("/healthz", "/readyz", "/api/v1")
_EXHAUSTED = (errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS)


def is_control(path: str) -> bool:
    """Whether ``path`` is the control plane's (the rest is the gateway's)."""
    return path.startswith(CONTROL_PREFIX) or path in HEALTH_PATHS


def create_app(platform: Platform, hub: HubIdentity | None = None):
    """The ASGI app over ``platform``; its lifespan starts and stops the platform.

    ``hub``: JupyterHub runs the platform as a service (``hubauth.py``): the control plane also
    takes JupyterHub tokens, and every path is answered under the service's prefix too.
    """
    deployer = Deployer(platform)
    platform.deployer = deployer
    control = Control(platform, deployer)
    control.hub = hub

    @asynccontextmanager
    async def lifespan(_app):
        asyncio.get_running_loop().set_exception_handler(_log_exhaustion)
        await platform.start()
        try:
            yield
        finally:
            await platform.stop()

    starlette_app = Starlette(
        routes=control.routes(),
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
    )
    # X-Forwarded-* from a trusted proxy (as uvicorn would apply to every request), for the
    # control plane's URLs; the gateway does not read them, so its calls skip this layer.
    control_app = ProxyHeadersMiddleware(
        starlette_app, trusted_hosts=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    )
    gateway = Gateway(platform)
    call_gateway = gateway.__call__
    # GET /metrics (an admin's token): Prometheus text of the gateway's counts and the engine's.
    serve_metrics = metrics_app(platform, make_registry(platform, gateway.counts))

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await starlette_app(scope, receive, send)
            return
        path = scope["path"]
        if is_control(path):
            await control_app(scope, receive, send)
        elif path == METRICS_PATH:
            await serve_metrics(scope, receive, send)
        else:
            await call_gateway(scope, receive, send)

    app.platform = platform  # type: ignore[attr-defined]
    if hub is not None and hub.settings.prefix:
        return under_prefix(app, hub.settings.prefix)
    return app


def under_prefix(app, prefix: str):
    """``app`` answering at ``prefix + path`` as at ``path``: JupyterHub's proxy sends the
    service's requests with their public path (``/services/<name>/<user>/<api>``). The prefix
    becomes the request's ``root_path``, so the control plane's URLs keep it; a path without it
    (a client of the service's own address) is served as it is."""
    cut = len(prefix)

    async def prefixed(scope, receive, send):
        path = scope.get("path", "")
        if path.startswith(prefix) and (len(path) == cut or path[cut] == "/"):
            scope = dict(
                scope, path=path[cut:] or "/", root_path=scope.get("root_path", "") + prefix
            )
        await app(scope, receive, send)

    prefixed.platform = app.platform  # type: ignore[attr-defined]
    return prefixed


def busy_app(max_connections: int):
    """The answer past the connection cap: 503, one sentence, in the shape of the path's plane."""
    error = {
        "type": "too_many_connections",
        "message": f"The platform has {max_connections} connections open, as many as it allows; "
        "retry in a few seconds, and close connections you do not use.",
    }
    control = json.dumps({"error": error}).encode()
    gateway = json.dumps({"statusCode": 503, "body": {"error": error}}).encode()

    async def busy(scope, receive, send):
        await send_busy(send, control if is_control(scope["path"]) else gateway)

    return busy


def _log_exhaustion(loop, context: dict) -> None:
    """Out of descriptors or memory is one warning line, not a traceback per failed accept:
    asyncio's accept loop pauses for a second and resumes on its own."""
    exc = context.get("exception")
    if isinstance(exc, OSError) and exc.errno in _EXHAUSTED:
        log.warning(
            "%s (%s); new connections wait until some are closed.",
            context.get("message", "out of resources"),
            exc.strerror,
        )
        return
    loop.default_exception_handler(context)
