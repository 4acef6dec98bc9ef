"""The handshake tells the user why when the hub CLI cannot be run."""

import json

import pytest

from jupyter_hub_api import __version__


@pytest.fixture
def jp_server_config(jp_server_config):
    """A server whose configured hub command does not exist."""
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_hub_api": True}},
        "HubAPIApp": {"hub_command": ["/nonexistent/hub"]},
    }


async def test_status_says_why_when_the_cli_cannot_be_run(jp_fetch):
    response = await jp_fetch("hub-api", "status")
    payload = json.loads(response.body)
    assert payload["server_extension"] == __version__
    assert payload["cli"] is None
    assert "'/nonexistent/hub' was not found" in payload["cli_error"]
