"""Registers the server extension's handlers under ``<base_url>/hub-api/``."""

from __future__ import annotations

from jupyter_server.utils import url_path_join

from .status import StatusHandler

NAMESPACE = "hub-api"


def routes(base_url: str) -> list[tuple]:
    """The (pattern, handler) pairs of the extension."""

    def url(path: str) -> str:
        return url_path_join(base_url, NAMESPACE, path)

    return [
        (url("status"), StatusHandler),
    ]


def load_extension(server_app) -> None:
    """Add the handlers to the running server's web application."""
    web_app = server_app.web_app
    web_app.add_handlers(".*$", routes(web_app.settings["base_url"]))
    server_app.log.info("Hub API server extension loaded under /%s/", NAMESPACE)
