"""What every handler of the server extension shares: authentication and one error shape."""

from __future__ import annotations

import json

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..errors import HubError


class HubAPIHandler(APIHandler):
    """Base of every ``/hub-api/`` handler.

    Every verb of a subclass must be decorated with ``@web.authenticated`` (a test checks it).
    Errors are answered as ``{"message", "reason"}`` with the right status: a :class:`HubError`
    raised anywhere in a handler keeps its own status and sentence.
    """

    def write_error(self, status_code: int, **kwargs) -> None:  # noqa: D401 - tornado API
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, HubError):
            message, reason = str(exc), exc.type
        elif isinstance(exc, web.HTTPError):
            message = exc.log_message or self._reason
            reason = exc.reason or self._reason
        else:
            message = "Internal error in the Hub API server extension; see the server log."
            reason = "internal_error"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": reason}))

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, HubError):
            self.send_error(e.status, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)

    def read_json(self) -> dict:
        """The request's JSON object body, or a 400 that says what is wrong with it."""
        try:
            body = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError as err:
            raise HubError(f"The request body is not valid JSON: {err}.", type="bad_json") from err
        if not isinstance(body, dict):
            raise HubError("The request body must be a JSON object.", type="bad_json")
        return body
