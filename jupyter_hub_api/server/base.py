"""What every handler of the server extension shares: authentication and one error shape."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.utils import HTTP_METHOD_TO_AUTH_ACTION
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketHandler

from ..errors import HubError
from ..platform import strictjson

# The resource name the server's authorizer sees for every /hub-api/ request.
AUTH_RESOURCE = "hub-api"

# What tornado's own errors (raised before a handler runs) say, as sentences.
_SENTENCES = {
    401: "Not authenticated: log in to Jupyter or send the server's token.",
    403: "Not allowed: the request lacks Jupyter's XSRF token or comes from another origin; "
    "reload JupyterLab and try again.",
    405: "This endpoint does not take that HTTP method; see openapi.yaml.",
}


# The largest whole number a query argument may be: the largest a JavaScript client (and
# JSON in general) holds exactly, far below what SQLite and islice() take.
MAX_INT = 2**53 - 1
_INTEGER = re.compile(r"-?[0-9]+")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a decoded body holds a string with half a UTF-16 pair (``"\\ud800"``).

    JSON's ``\\u`` escapes can spell one, Python decodes it, and every path, file name or
    subprocess argument made of it raises UnicodeEncodeError later, deep in a handler.
    """
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def body_field(body: dict, key: str, kind: type | tuple[type, ...], default: Any, what: str) -> Any:
    """``body[key]``, which must be a ``kind`` when it is there (``null`` is not "absent": it is
    refused like any other wrong type), else ``default``. ``what`` says what it should be."""
    if key not in body:
        return default
    value = body[key]
    if not isinstance(value, kind):
        raise HubError(f"'{key}' must be {what}.", type="bad_request")
    return value


class HubErrorsMixin:
    """One error body for every handler: ``{"message", "reason"}`` with the right status.

    A :class:`HubError` raised anywhere in a handler keeps its own status and sentence; a
    tornado ``HTTPError`` keeps its status; anything else is a 500 whose details go to the
    server log only.
    """

    def write_error(self, status_code: int, **kwargs) -> None:  # noqa: D401 - tornado API
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, HubError):
            message, reason = str(exc), exc.type
        elif isinstance(exc, web.HTTPError):
            message = exc.log_message and (
                exc.log_message % exc.args if exc.args else exc.log_message
            )
            message = message or _SENTENCES.get(status_code, f"{self._reason}.")
            reason = (exc.reason or self._reason).lower().replace(" ", "_")
        else:
            message = "Internal error in the Hub API server extension; see the server log."
            reason = "internal_error"
        # Set here: send_error() cleared the headers the handler had set.
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="jupyter_server"')
            reason = "not_authenticated"
        elif status_code == 405:
            self.set_header("Allow", ", ".join(allowed_methods(type(self))))
        elif status_code == 426:
            self.set_header("Upgrade", "websocket")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": reason}))

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, HubError):
            if self._finished:
                return
            self.send_error(e.status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)

    def read_json(self) -> dict:
        """The request's JSON object body, or a 400 that says what is wrong with it.

        Only RFC 8259 JSON: ``NaN``, ``Infinity`` and numbers too big for a float are refused,
        and so is nesting too deep to parse.
        """
        raw = self.request.body or b"{}"
        try:
            body = strictjson.loads(raw)
        except strictjson.NotJSON as err:
            raise HubError(f"The request body is not valid JSON: {err}.", type="bad_json") from None
        # Only a body with a \u escape can hold a lone surrogate: the others skip the check.
        if b"\\u" in raw and _has_lone_surrogate(body):
            raise HubError(
                "The request body holds a string with an unpaired UTF-16 surrogate (a lone "
                "\\uD800-\\uDFFF escape); send valid Unicode text.",
                type="bad_json",
            )
        if not isinstance(body, dict):
            raise HubError("The request body must be a JSON object.", type="bad_json")
        return body

    def int_argument(
        self, name: str, default: int, minimum: int = 0, maximum: int = MAX_INT
    ) -> int:
        """A whole-number query argument (ASCII digits), or a 400 naming it."""
        raw = self.get_argument(name, None)
        if raw is None:
            return default
        if not _INTEGER.fullmatch(raw):
            raise HubError(
                f"The query argument '{name}' must be a whole number.", type="bad_argument"
            )
        value = int(raw) if len(raw) <= 20 else MAX_INT + 1  # int() of 5000 digits raises
        if not minimum <= value <= maximum:
            raise HubError(
                f"The query argument '{name}' must be from {minimum} to {maximum}.",
                type="bad_argument",
            )
        return value

    async def check_authorized(self, action: str) -> None:
        """Ask the server's authorizer (JupyterHub's scopes, say) whether the user may ``action``
        the ``hub-api`` resource; a 403 with a sentence if not. The default authorizer allows all.
        """
        user = self.current_user
        if user is None:
            return  # unauthenticated: prepare() has answered 401 already
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, user, action, AUTH_RESOURCE)
        )
        if not allowed:
            raise HubError(
                f"You are not allowed to {action} Hub API resources on this server; ask its administrator.",
                type="forbidden",
                status=403,
            )

    @property
    def hub(self) -> Any:
        """The extension's services (job manager, settings): see ``server/app.py``."""
        return self.settings["hub_api"]


async def refuse_other_hub_user(handler: JupyterHandler) -> None:
    """Under JupyterHub: a 403 naming both users when the request's credentials are those of
    a JupyterHub user who may not use this server (bob's token on alice's server), rather than
    "not authenticated" to someone who is logged in.

    JupyterHub's identity provider has already asked the hub about the credentials (and keeps
    the answer for this request), then refused the user for lack of this server's access
    scope; its ``hub_auth.get_user`` gives that answer back without asking the hub again.
    """
    hub_auth = getattr(handler.identity_provider, "hub_auth", None)
    if hub_auth is None:
        return
    try:
        model = await hub_auth.get_user(handler, sync=False)
    except Exception:  # the hub could not be asked: the plain 401 stays right
        return
    name = (model or {}).get("name")
    owner = os.environ.get("JUPYTERHUB_USER", "")
    if name and name != owner:
        kind = (model or {}).get("kind", "user")
        raise HubError(
            f"You are logged in to JupyterHub as {name}; this server belongs to {owner}. "
            + (
                f"Open your own server at {hub_auth.hub_prefix}home."
                if kind == "user"
                else f"The {kind} {name} has no access to it."
            ),
            type="wrong_user",
            status=403,
        )


def allowed_methods(handler: type) -> list[str]:
    """The HTTP methods ``handler`` answers (what a 405's ``Allow`` header lists)."""
    return [
        m
        for m in handler.SUPPORTED_METHODS
        if getattr(handler, m.lower(), None) is not getattr(web.RequestHandler, m.lower(), None)
        and (m != "HEAD" or handler.get is not web.RequestHandler.get)
    ]


class HubAPIHandler(HubErrorsMixin, APIHandler):
    """Base of every ``/hub-api/`` REST handler.

    Every verb of a subclass must be decorated with ``@web.authenticated`` too (a test walks
    every route and checks an unauthenticated request gets 401).
    """

    auth_resource = AUTH_RESOURCE

    async def prepare(self) -> None:
        """Authenticate (jupyter_server), then authorize the verb: GET reads, others write.

        No credentials (or wrong ones) is a 401 with ``WWW-Authenticate``, as HTTP says, where
        jupyter_server's own API answers 403; 403 is kept for a user the authorizer refuses.
        A CORS preflight (``OPTIONS``) needs no credentials.
        """
        await super().prepare()
        if self.request.method == "OPTIONS":
            return
        if self.current_user is None:
            await refuse_other_hub_user(self)
            raise web.HTTPError(401)
        await self.check_authorized(HTTP_METHOD_TO_AUTH_ACTION.get(self.request.method, "write"))

    async def head(self, *args, **kwargs) -> None:
        """``HEAD`` is ``GET`` without the body (RFC 9110), wherever there is a ``GET``."""
        if type(self).get is web.RequestHandler.get:
            raise web.HTTPError(405)
        await ensure_async(self.get(*args, **kwargs))  # tornado drops the body of a HEAD

    def check_xsrf_cookie(self) -> None:
        """No credentials at all is a 401 before any XSRF check (which would answer 403)."""
        if hasattr(self, "_jupyter_current_user") and self.current_user is None:
            raise web.HTTPError(401)
        super().check_xsrf_cookie()

    def write_json(self, data: Any, status: int = 200) -> None:
        """Answer ``data`` as JSON with ``status``."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))


class NotFoundHandler(HubAPIHandler):
    """Any other path under ``/hub-api/``: a 404 in the one error shape (not an HTML page)."""

    @web.authenticated
    def get(self, *args) -> None:
        raise HubError(
            f"There is no endpoint {self.request.path}; see the server extension's openapi.yaml.",
            type="not_found",
            status=404,
        )

    post = put = patch = delete = get


class HubWebSocketHandler(HubErrorsMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Base of the extension's WebSockets: jupyter_server's origin checks, pings and auth.

    Subclasses decorate ``get`` with ``jupyter_server.auth.decorator.ws_authenticated`` too;
    ``prepare`` has already refused an unauthenticated request with 401 (no login redirect).
    """

    auth_resource = AUTH_RESOURCE

    async def prepare(self, *args, **kwargs) -> None:
        """Authenticate as every handler does; no credentials is a 401, as over REST."""
        await ensure_async(super().prepare(*args, **kwargs))
        if self.current_user is None:
            await refuse_other_hub_user(self)
            raise web.HTTPError(401)

    def set_default_headers(self) -> None:
        """No HTML security headers on a WebSocket (what jupyter_server's own sockets do)."""

    def get_login_url(self) -> str:
        """Never redirect to a login page: a client of this API gets 403."""
        raise web.HTTPError(403)

    def get_compression_options(self):
        """Compress messages when the server is configured to (big logs compress well)."""
        return self.settings.get("websocket_compression_options", None)
