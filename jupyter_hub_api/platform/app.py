"""The platform's ASGI application: the control plane under ``/api/v1``, the gateway elsewhere.

The split is by path prefix before any framework code runs, so an API call pays for no routing
table: ``/healthz``, ``/readyz`` and ``/api/v1/...`` go to the Starlette control plane, every
other path to the gateway (``/<user>/<api>``). A consequence: a user called ``api`` cannot have
an API called ``v1``.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .control import Control
from .deploy import Deployer
from .gateway import Gateway
from .service import Platform

CONTROL_PREFIX = "/api/v1/"
HEALTH_PATHS = ("/healthz", "/readyz", "/api/v1")


def create_app(platform: Platform):
    """The ASGI app over ``platform``; its lifespan starts and stops the platform."""
    deployer = Deployer(platform)
    platform.deployer = deployer
    control = Control(platform, deployer)

    @asynccontextmanager
    async def lifespan(_app):
        await platform.start()
        try:
            yield
        finally:
            await platform.stop()

    starlette_app = Starlette(routes=control.routes(), lifespan=lifespan)
    # X-Forwarded-* from a trusted proxy (as uvicorn would apply to every request), for the
    # control plane's URLs; the gateway does not read them, so its calls skip this layer.
    control_app = ProxyHeadersMiddleware(
        starlette_app, trusted_hosts=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
    )
    gateway = Gateway(platform)
    call_gateway = gateway.__call__

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await starlette_app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(CONTROL_PREFIX) or path in HEALTH_PATHS:
            await control_app(scope, receive, send)
        else:
            await call_gateway(scope, receive, send)

    app.platform = platform  # type: ignore[attr-defined]
    return app
