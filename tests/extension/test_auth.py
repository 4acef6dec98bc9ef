"""No handler of the server extension answers without authentication.

Walks every route the extension registers (as extension-template's check_auth does for the
server) and calls each verb the handler defines without a token.
"""

import pytest
import tornado.httpclient

from jupyter_hub_api.server.base import allowed_methods
from jupyter_hub_api.server.extension import NAMESPACE

VERBS = ["get", "head", "post", "put", "patch", "delete"]


def _extension_routes(serverapp):
    """Every (pattern, handler) under /hub-api/, walking the nested tornado routers."""
    found = []

    def walk(router):
        for rule in getattr(router, "rules", []):
            if hasattr(rule.target, "rules"):
                walk(rule.target)
                continue
            pattern = getattr(rule.matcher, "regex", None)
            if pattern is not None and f"/{NAMESPACE}/" in pattern.pattern:
                found.append((pattern.pattern, rule.target))

    walk(serverapp.web_app.default_router)
    return found


def _concrete_path(pattern: str) -> str:
    """Turn a route regex into a path that matches it (groups become 'x')."""
    import re

    path = pattern.rstrip("$")
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "x", path)
    path = re.sub(r"\([^)]*\)", "x", path)
    return path.replace("\\", "")


async def test_every_handler_refuses_unauthenticated_requests(jp_serverapp, http_server_client):
    routes = _extension_routes(jp_serverapp)
    assert routes, "the extension registered no route"
    checked = 0
    for pattern, handler in routes:
        path = _concrete_path(pattern)
        for verb in VERBS:
            if verb.upper() not in allowed_methods(handler):
                continue
            body = b"{}" if verb in ("post", "put", "patch") else None
            with pytest.raises(tornado.httpclient.HTTPClientError) as info:
                await http_server_client.fetch(
                    path,
                    method=verb.upper(),
                    body=body,
                    headers={"Authorization": ""},
                    allow_nonstandard_methods=True,
                )
            assert info.value.code == 401, f"{verb.upper()} {path} answered {info.value.code}"
            assert info.value.response.headers["WWW-Authenticate"].startswith("Bearer")
            checked += 1
    assert checked >= len(routes)
