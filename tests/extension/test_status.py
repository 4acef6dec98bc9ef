"""The version handshake the frontend starts with: GET /hub-api/status."""

import json

from jupyter_hub_api import __version__


async def test_status_reports_the_server_extension_and_cli_versions(jp_fetch):
    response = await jp_fetch("hub-api", "status")
    assert response.code == 200
    payload = json.loads(response.body)
    assert payload["server_extension"] == __version__
    # The CLI is run for real as a subprocess, as jobs run it: its version is the package's.
    assert payload["cli"] == __version__
    assert payload["cli_error"] is None
