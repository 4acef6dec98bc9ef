"""What a user's server under JupyterHub does without a hub: no platform of its own is started
once the operator set HUB_PLATFORM_URL, and an embedded platform never inherits the server's
JupyterHub credentials. (The real hub is in test_jupyterhub.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

from jupyter_hub_api.client import embedded

HUB = [sys.executable, "-m", "jupyter_hub_api.cli.main"]


def _server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_PLATFORM", "JUPYTERHUB_"))}
    return {
        **env,
        "JUPYTERHUB_USER": "alice",
        "JUPYTERHUB_API_TOKEN": "alices-server-token",
        **extra,
    }


def test_hub_platform_start_refuses_to_start_the_hubs_shared_platform(hub_home):
    # Port 9 (discard) on loopback: nothing may be started there, and nothing is.
    env = _server_env(HUB_PLATFORM_URL="http://127.0.0.1:9")
    proc = subprocess.run(  # noqa: S603 - argv list
        [*HUB, "platform", "start"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "JupyterHub's shared service" in proc.stderr
    assert not (hub_home / "platform" / "platform.json").exists()  # nothing was started


def test_a_job_calls_the_shared_platform_with_the_users_hub_token():
    env = _server_env(HUB_PLATFORM_URL="http://127.0.0.1:9")
    code = "from jupyter_hub_api.client.api import credentials; print(*credentials())"
    out = subprocess.run(  # noqa: S603 - argv list
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["http://127.0.0.1:9", "alices-server-token"], out.stderr


def test_an_embedded_platform_does_not_inherit_jupyterhub_credentials():
    env = embedded.platform_env(
        {
            "PATH": "/usr/bin",
            "HUB_HOME": "/data",
            "JUPYTERHUB_USER": "alice",
            "JUPYTERHUB_API_TOKEN": "secret",
            "JPY_API_TOKEN": "secret",
            "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-alice",
            "JUPYTERHUB_OAUTH_ACCESS_SCOPES": "[]",
        }
    )
    assert env == {"PATH": "/usr/bin", "HUB_HOME": "/data", "JUPYTERHUB_USER": "alice"}
