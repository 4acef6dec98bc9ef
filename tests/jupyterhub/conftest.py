"""The real JupyterHub of this folder's tests (``hubtest.py`` has how it is configured and
driven). A module name of its own, not ``jupyterhub``: this folder is on ``sys.path`` and must
not hide the real package.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest
from hubtest import (
    CONFIG,
    MONTHLY_CALLS,
    VENV_BIN,
    Hub,
    _answers,
    _chp,
    _stop,
    free_port,
    wait_for,
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Hub:
    chp = _chp()
    if chp is None:
        pytest.skip(
            "npm's configurable-http-proxy is not installed: scripts/setup.sh --test installs it "
            "into .work/chp"
        )
    singleuser = VENV_BIN / "jupyterhub-singleuser"
    if not singleuser.exists():
        pytest.skip("jupyterhub is not installed in this venv: pip install -e '.[test]'")
    root = tmp_path_factory.mktemp("jupyterhub")
    state, homes = root / "state", root / "home"
    platform_home = root / "platform-home"
    for d in (state, homes, platform_home):
        d.mkdir()
    port, service_port = free_port(), free_port()
    uv_cache = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
    admin_token = secrets.token_hex(16)
    (platform_home / "platform").mkdir()
    (platform_home / "platform" / "config.json").write_text(
        json.dumps(
            {
                "plans": {
                    "free": {"monthly_calls": MONTHLY_CALLS},
                    "team": {"monthly_calls": 1000},
                },
            }
        )
    )
    config = root / "jupyterhub_config.py"
    config.write_text(
        CONFIG.format(
            service_port=service_port,
            platform_home=str(platform_home),
            uv_cache=uv_cache,
            admin_token=admin_token,
            port=port,
            hub_port=free_port(),
            proxy_api_port=free_port(),
            proxy_token=secrets.token_hex(16),
            chp=chp,
            homes=str(homes),
            singleuser=str(singleuser),
            state=str(state),
        )
    )
    log = root / "jupyterhub.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "JUPYTERHUB_"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    with open(log, "ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - argv list
            [str(VENV_BIN / "jupyterhub"), "-f", str(config)],
            cwd=root,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    the_hub = Hub(
        url=f"http://127.0.0.1:{port}",
        service_url=f"http://127.0.0.1:{service_port}",
        root=root,
        platform_home=platform_home,
        homes=homes,
        admin_token=admin_token,
        proc=proc,
        log=log,
    )
    try:
        wait_for(
            "JupyterHub answering",
            lambda: proc.poll() is None and _answers(f"{the_hub.url}/hub/api/"),
            timeout=240,  # it waits for its service first (at most the service's timeout)
            hub=the_hub,
        )
        assert proc.poll() is None, the_hub.tail()
        wait_for(
            "the platform answering behind the hub's proxy",
            lambda: _answers(f"{the_hub.platform_url}/readyz"),
            hub=the_hub,
        )
        yield the_hub
    finally:
        for session in the_hub.sessions.values():
            session.close()
        _stop(the_hub)
    # JupyterHub stops what it started: the users' servers, its platform and their workers.
    assert not the_hub.leftovers, f"left running after the hub stopped: {the_hub.leftovers}"
