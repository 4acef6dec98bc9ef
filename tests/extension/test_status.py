"""The version handshake the frontend starts with: GET /hub-api/status."""

import json
import re

from jupyter_hub_api import __version__


async def test_status_reports_the_server_extension_and_cli_versions(jp_fetch):
    response = await jp_fetch("hub-api", "status")
    assert response.code == 200
    payload = json.loads(response.body)
    assert payload["server_extension"] == __version__
    # The CLI is run for real as a subprocess: its version is the installed package's.
    assert payload["cli"] == __version__
    assert payload["cli_error"] is None


async def test_status_says_why_when_the_cli_cannot_be_found(jp_fetch, jp_serverapp, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("sys.executable", "/nonexistent/python")
    response = await jp_fetch("hub-api", "status")
    payload = json.loads(response.body)
    assert payload["cli"] is None
    assert re.search(r"'hub' command was not found", payload["cli_error"])
