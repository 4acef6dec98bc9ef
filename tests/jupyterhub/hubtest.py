"""Helpers of the real-JupyterHub tests (conftest.py starts the hub): a real JupyterHub for the tests of this folder: PyPI's ``jupyterhub``, npm's
``configurable-http-proxy`` (``scripts/setup.sh --test`` installs it into ``.work/chp``),
DummyAuthenticator and SimpleLocalProcessSpawner, with the platform as its managed service
``hub-api``, configured with the lines docs/jupyterhub.md gives operators.

One hub serves the whole module (starting it and two users' servers is most of the time);
everything it starts lives under a temporary folder and ends with it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CHP = ROOT / ".work" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
SERVICE = "hub-api"
ADMIN_SERVICE = "test-admin"
USERS = ("alice", "bob")
HUB_ADMIN = "carol"  # a JupyterHub admin (never spawns a server)
MONTHLY_CALLS = 6  # the platform's default plan here: small, so a quota is reached quickly


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chp() -> str | None:
    if CHP.exists():
        return str(CHP)
    return shutil.which("configurable-http-proxy")


CONFIG = """
# The lines of docs/jupyterhub.md ("Configure JupyterHub"), with this test's paths and ports.
import sys

c.JupyterHub.services = [
    {{
        "name": "hub-api",
        "url": "http://127.0.0.1:{service_port}",
        "command": [sys.executable, "-m", "jupyter_hub_api.platform"],
        "environment": {{"HUB_HOME": {platform_home!r}, "UV_CACHE_DIR": {uv_cache!r}}},
        "oauth_no_confirm": True,
        # Test-only: on a loaded CI machine the platform may take longer than JupyterHub 6's
        # default 30 s to answer at start.
        "timeout": 120,
    }},
    # The test's own admin client (not part of the operator's lines).
    {{"name": "test-admin", "api_token": {admin_token!r}}},
]
c.JupyterHub.load_roles = [
    # Every user may use the platform (with their API tokens and their servers' tokens).
    {{"name": "user", "scopes": ["self", "access:services!service=hub-api"]}},
    {{"name": "admin", "services": ["test-admin"]}},  # the test's own admin client
]
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    "access:services!service=hub-api",
]
c.Spawner.environment = {{
    "HUB_PLATFORM_URL": "http://127.0.0.1:{service_port}",
    # Test-only: the users share this machine's uv cache; activity goes to the hub every 1 s.
    "UV_CACHE_DIR": {uv_cache!r},
    "JUPYTERHUB_ACTIVITY_INTERVAL": "1",
}}

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.public_url = "http://127.0.0.1:{port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.auth_token = {proxy_token!r}
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{"alice", "bob"}}
c.Authenticator.admin_users = {{"carol"}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.Spawner.cmd = [{singleuser!r}]
# Test-only: the servers run as root here; marks of build activity every 0.5 s.
c.Spawner.args = ["--allow-root", "--HubAPIApp.activity_interval=0.5"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.JupyterHub.db_url = "sqlite:///" + {state!r} + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = {state!r} + "/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = {state!r} + "/jupyterhub.pid"
c.JupyterHub.last_activity_interval = 3600  # only the servers' own reports move activity here
c.JupyterHub.cleanup_servers = True
"""


@dataclass
class Hub:
    """The running hub: its public URL, folders, admin token and process."""

    url: str
    service_url: str
    root: Path
    platform_home: Path
    homes: Path
    admin_token: str
    proc: subprocess.Popen
    log: Path
    sessions: dict = field(default_factory=dict)
    leftovers: list = field(default_factory=list)  # pids found after the hub stopped

    @property
    def platform_url(self) -> str:
        """The platform behind the hub's proxy (what users' clients call)."""
        return f"{self.url}/services/{SERVICE}"

    def api(self, method: str, path: str, **kw) -> httpx.Response:
        """The hub's REST API as the test's admin service."""
        headers = {"Authorization": f"token {self.admin_token}", **kw.pop("headers", {})}
        return httpx.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=60, trust_env=False, **kw
        )

    def token_for(self, user: str, scopes: list[str] | None = None) -> str:
        """A new JupyterHub API token of ``user`` (as one made on the hub's Token page)."""
        body = {"note": "test"} if scopes is None else {"note": "test", "scopes": scopes}
        resp = self.api("POST", f"/users/{user}/tokens", json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()["token"]

    def platform_pid(self) -> int | None:
        try:
            return json.loads((self.platform_home / "platform" / "platform.json").read_text())[
                "pid"
            ]
        except (OSError, ValueError, KeyError):
            return None

    def tail(self, n: int = 4000) -> str:
        text = self.log.read_text(errors="replace")[-n:]
        plog = self.platform_home / "platform" / "platform.log"
        return text + ("\n--- platform ---\n" + plog.read_text()[-n:] if plog.exists() else "")


def wait_for(what: str, check, timeout: float = 120, every: float = 0.25, hub: Hub | None = None):
    """``check()``'s first truthy value, or a failure naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} did not happen within {timeout} s" + (f"\n{hub.tail()}" if hub else "")
            )
        time.sleep(every)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(hub: Hub) -> None:
    """SIGTERM to the hub (it stops the users' servers, its service and the proxy), then make
    sure nothing started under the test's folder is left."""
    if hub.proc.poll() is None:
        hub.proc.send_signal(signal.SIGTERM)
        try:
            hub.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(hub.proc.pid, signal.SIGKILL)
            hub.proc.wait(10)
    leftovers = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            text = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["cwd"] or "")
        except (psutil.Error, TypeError):
            continue
        if str(hub.root) in text and proc.pid != os.getpid():
            leftovers.append((proc, text[:200]))
    for proc, _ in leftovers:
        try:
            proc.kill()
        except psutil.Error:
            pass
    hub.leftovers = [f"{proc.pid}: {text}" for proc, text in leftovers]


_XSRF = re.compile(r'name="_xsrf" value="([^"]+)"')


class UserSession:
    """One user's browser: logged in through the hub's login form, with their server's cookies."""

    def __init__(self, hub: Hub, name: str) -> None:
        self.hub, self.name = hub, name
        self.http = httpx.Client(
            base_url=hub.url, follow_redirects=True, timeout=120, trust_env=False
        )

    def close(self) -> None:
        self.http.close()

    def login(self) -> None:
        page = self.http.get("/hub/login")
        assert page.status_code == 200, page.text[:500]
        xsrf = _XSRF.search(page.text).group(1)
        resp = self.http.post(
            "/hub/login", data={"username": self.name, "password": "any", "_xsrf": xsrf}
        )
        assert resp.status_code == 200, resp.text[:500]
        assert self.http.cookies.get("jupyterhub-session-id"), "no hub session after login"

    def start_server(self) -> None:
        """Start the user's server from the hub (the "Start My Server" button), then open
        JupyterLab in it (which runs the OAuth dance and sets the server's XSRF cookie)."""
        self.http.get("/hub/spawn", follow_redirects=False)

        def lab_ready():
            resp = self.http.get(f"/user/{self.name}/lab")
            return resp.status_code == 200 and "jupyter-config-data" in resp.text

        wait_for(f"{self.name}'s JupyterLab", lab_ready, timeout=150, every=0.5, hub=self.hub)

    @property
    def xsrf(self) -> str:
        for cookie in self.http.cookies.jar:
            if cookie.name == "_xsrf" and cookie.path.startswith(f"/user/{self.name}"):
                return cookie.value
        raise AssertionError(f"no _xsrf cookie for {self.name}'s server")

    def server(self, method: str, path: str, **kw) -> httpx.Response:
        """A request to the user's own server, as JupyterLab's frontend sends it (cookies +
        X-XSRFToken)."""
        headers = {"X-XSRFToken": self.xsrf, **kw.pop("headers", {})}
        return self.http.request(method, f"/user/{self.name}/{path}", headers=headers, **kw)

    def json(self, method: str, path: str, expect: int = 200, **kw):
        resp = self.server(method, path, **kw)
        assert resp.status_code == expect, (method, path, resp.status_code, resp.text[:1000])
        return resp.json()
