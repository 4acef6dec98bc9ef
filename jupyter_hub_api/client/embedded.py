"""The embedded platform as a process: probe it, start it detached, stop it.

The CLI starts the platform on demand when ``paths.platform_url()`` points at loopback and
nothing answers there (and no ``HUB_PLATFORM_TOKEN`` says a remote platform is meant). The
process outlives the command (its own session), writes its output to
``<platform dir>/platform.log``, and is stopped with ``hub platform stop``.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

from .. import paths
from ..errors import UsageError, WorkError
from ..platform import instance_id
from ..processes import command_line, pid_alive

START_TIMEOUT = 60.0
LOG_FILE = "platform.log"


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine's loopback interface."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_port(url: str) -> tuple[str, int]:
    """The host and port of ``url``."""
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or (443 if parsed.scheme == "https" else 80)


def probe(url: str, timeout: float = 2.0) -> tuple[str, dict]:
    """What answers at ``url``: ``("ours"|"other"|"down", health)``."""
    try:
        resp = httpx.get(f"{url}/healthz", timeout=timeout, trust_env=False)
    except httpx.ConnectError:
        return "down", {}
    except httpx.HTTPError:
        return "other", {}  # something accepts connections there but does not answer like us
    try:
        body = resp.json()
    except ValueError:
        return "other", {}
    if resp.status_code == 200 and isinstance(body, dict) and body.get("service") == "hub-platform":
        return "ours", body
    return "other", {}


def ready(url: str, timeout: float = 2.0) -> bool:
    """Whether the platform at ``url`` says it is ready."""
    try:
        resp = httpx.get(f"{url}/readyz", timeout=timeout, trust_env=False)
    except httpx.HTTPError:
        return False
    return resp.status_code == 200


def port_in_use_error(url: str) -> UsageError:
    """The sentence for a port that another program holds."""
    host, port = host_port(url)
    return UsageError(
        f"Port {port} on {host} is used by another program, not by the Hub platform.",
        type="port_in_use",
        hint=f"Choose another port for the platform, e.g. export HUB_PLATFORM_URL=http://{host}:{port + 1}.",
    )


def other_home_error(url: str) -> UsageError:
    """The sentence for a platform that serves another data directory on our URL."""
    return UsageError(
        f"The Hub platform at {url} belongs to another data directory (HUB_HOME).",
        type="other_platform",
        hint="Stop it, or give this one its own port with HUB_PLATFORM_URL=http://127.0.0.1:<port>.",
    )


def ensure_running(url: str | None = None, timeout: float = START_TIMEOUT) -> dict:
    """Make sure the embedded platform answers at ``url``; start it if needed. Returns health."""
    url = (url or paths.platform_url()).rstrip("/")
    state, health = probe(url)
    if state == "ours":
        if health.get("instance") not in (None, instance_id()):
            raise other_home_error(url)
        return health
    if state == "other":
        raise port_in_use_error(url)
    return start(url, timeout)


def start(url: str, timeout: float = START_TIMEOUT) -> dict:
    """Start the platform process detached and wait until it is ready (or say why not)."""
    host, port = host_port(url)
    state_dir = paths.platform_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / LOG_FILE
    offset = log_path.stat().st_size if log_path.exists() else 0
    argv = [sys.executable, "-m", "jupyter_hub_api.platform", "--host", host, "--port", str(port)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv,
            env=platform_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # survives the command that started it, and its Ctrl-C
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            reason = _error_line(log_path, offset)
            if reason and "already running" in reason:
                # Another command started it a moment ago: wait for that one instead.
                if _wait_ready(url, deadline):
                    return probe(url)[1]
            if reason and "already in use" in reason:
                raise port_in_use_error(url)
            raise WorkError(
                f"The Hub platform did not start: {reason or f'it exited with code {code}'}",
                type="platform_start_failed",
                hint=f"See {log_path}.",
            )
        state, health = probe(url, timeout=1.0)
        if state == "ours" and ready(url):
            return health
        time.sleep(0.05)
    raise WorkError(
        f"The Hub platform did not become ready at {url} within {timeout:.0f} s.",
        type="platform_start_timeout",
        hint=f"See {log_path}.",
    )


# -- JupyterHub (hubhub) --
def platform_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an embedded platform: the caller's without JupyterHub's credentials.

    Started from a single-user server, the platform outlives that server; it must not hold
    its JupyterHub token (or OAuth client) and act with it. ``JUPYTERHUB_USER`` stays: it names
    the platform's own user (``paths.username``).
    """
    env = dict(os.environ if env is None else env)
    for name in list(env):
        if (
            name.startswith("JUPYTERHUB_") and name != "JUPYTERHUB_USER"
        ) or name == "JPY_API_TOKEN":
            del env[name]
    return env


# -- end JupyterHub --


def _wait_ready(url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if probe(url, timeout=1.0)[0] == "ours" and ready(url):
            return True
        time.sleep(0.1)
    return False


def _error_line(log_path: Path, offset: int) -> str | None:
    try:
        with open(log_path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("Error: "):
            return line[len("Error: ") :]
    return lines[-1][-300:] if lines else None


def read_info() -> dict:
    """The running platform's pid and URL from ``platform.json`` ({} when none)."""
    from ..platform.server import read_info as _read

    return _read(paths.platform_dir())


def stop(url: str, token: str | None, timeout: float = 20.0) -> bool:
    """Stop the embedded platform; True if one was running."""
    info = read_info()
    pid = info.get("pid")
    was_running = False
    if probe(url)[0] == "ours" and token:
        try:
            resp = httpx.post(
                f"{url}/api/v1/shutdown",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
                trust_env=False,
            )
            was_running = resp.status_code == 202
        except httpx.HTTPError:
            pass
    if not was_running and pid and pid_alive(pid) and _is_platform_process(pid):
        os.kill(pid, signal.SIGTERM)
        was_running = True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gone = probe(url, timeout=0.5)[0] != "ours" and not (pid and pid_alive(pid))
        if gone:
            return was_running
        time.sleep(0.05)
    if pid and pid_alive(pid) and _is_platform_process(pid):
        os.kill(pid, signal.SIGKILL)
    return was_running


def _is_platform_process(pid: int) -> bool:
    argv = command_line(pid)
    if argv is None:
        return True  # cannot be read: trust the pid file
    return any("jupyter_hub_api.platform" in arg for arg in argv)
