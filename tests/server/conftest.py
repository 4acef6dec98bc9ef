"""Fixtures of the server extension's tests: a real Jupyter server (pytest-jupyter) with the
extension, its job store in a temporary folder, real projects made by the real ``hub`` CLI.

The pytest-jupyter plugin itself is enabled in ``tests/conftest.py`` (pytest only reads
``pytest_plugins`` there).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from tornado.httpclient import HTTPClientError

HUB = [sys.executable, "-m", "jupyter_hub_api.cli.main"]


@pytest.fixture
def jobs_dir(tmp_path) -> Path:
    """Where the test server keeps its job database and event logs."""
    return tmp_path / "jobs"


@pytest.fixture
def hub_api_config() -> dict:
    """Extra ``HubAPIApp`` settings of a test module (override the fixture to change them)."""
    return {}


@pytest.fixture
def jp_server_config(jobs_dir, hub_api_config):
    """Enable the extension, with a temporary job store and a short cancel grace period."""
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_hub_api": True}},
        "HubAPIApp": {"jobs_dir": str(jobs_dir), "cancel_grace_period": 1.0, **hub_api_config},
        "FileContentsManager": {"delete_to_trash": False},
    }


def hub_init(parent: Path, name: str, requirements: str | None = None) -> Path:
    """A project made by the real ``hub init``; ``requirements`` replaces its requirements.txt."""
    subprocess.run(  # noqa: S603 - argv list
        [*HUB, "init", name, "--dir", str(parent), "--json"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    project = parent / name
    if requirements is not None:
        (project / "src" / "requirements.txt").write_text(requirements)
    return project


SLOW_BACKEND = """
import base64, hashlib, os, sys, time, zipfile

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    # Like compiling a C extension: it takes a while, printing as it goes.
    for i in range({steps}):
        print(f"compiling part {{i}}", flush=True)
        time.sleep({pause})
    name = "{name}-0.1-py3-none-any.whl"
    files = {{
        "{name}/__init__.py": b"",
        "{name}-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: {name}\\nVersion: 0.1\\n",
        "{name}-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: slow\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }}
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{{path}},sha256={{digest}},{{len(data)}}")
        record.append("{name}-0.1.dist-info/RECORD,,")
        z.writestr("{name}-0.1.dist-info/RECORD", "\\n".join(record) + "\\n")
    return name
"""


def slow_package(folder: Path, seconds: float, name: str = "slowpkg") -> str:
    """A Python package whose build takes ``seconds``; returns its requirement line.

    Its build backend lives in the package itself, so ``hub build`` installing it is a real,
    naturally slow build (uv runs the backend in a child process). The sdist is served over
    loopback HTTP, since a requirement naming a local file is refused (an environment built
    elsewhere could not hold it).
    """
    folder.mkdir(parents=True, exist_ok=True)
    steps = max(1, int(seconds / 0.25))
    files = {
        "pyproject.toml": "[build-system]\nrequires = []\nbuild-backend = 'slow_backend'\n"
        f"backend-path = ['.']\n\n[project]\nname = '{name}'\nversion = '0.1'\n",
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
        "slow_backend.py": SLOW_BACKEND.format(steps=steps, pause=0.25, name=name),
    }
    sdist = folder / f"{name}-0.1.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-0.1/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return f"{name} @ {_serve(sdist)}\n"


_SERVED: dict[str, Path] = {}
_SERVER: list[http.server.ThreadingHTTPServer] = []


def _serve(path: Path) -> str:
    """A loopback URL of ``path``, from one HTTP server in a thread for the whole session."""
    if not _SERVER:

        class Files(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's API
                file = _SERVED.get(self.path)
                if file is None:
                    self.send_error(404)
                    return
                data = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _SERVER.append(server)
    url_path = f"/{uuid.uuid4().hex}/{path.name}"
    _SERVED[url_path] = path
    return f"http://127.0.0.1:{_SERVER[0].server_address[1]}{url_path}"


async def post_json(jp_fetch, *parts, body=None, **kwargs):
    """POST a JSON body; return (status, parsed body), also for 4xx/5xx answers."""
    return await fetch_json(jp_fetch, *parts, method="POST", body=json.dumps(body or {}), **kwargs)


async def fetch_json(jp_fetch, *parts, **kwargs):
    """Any request; return (status, parsed body or None), also for 4xx/5xx answers."""
    try:
        response = await jp_fetch(*parts, **kwargs)
    except HTTPClientError as err:
        response = err.response
        assert response is not None, err
    body = json.loads(response.body) if response.body else None
    return response.code, body


async def follow(jp_ws_fetch, job_id: str, offset: int = 0, until=None, timeout: float = 20):
    """Read a job's WebSocket to the end (or until ``until(event)``); return what arrived.

    Returns ``(events, jobs, received)``: events with their offsets, the job records sent, and
    ``time.time()`` at the arrival of each event.
    """
    ws = await jp_ws_fetch("hub-api", "jobs", job_id, "events", params={"offset": str(offset)})
    events, jobs, received = [], [], []

    async def read():
        while True:
            message = await ws.read_message()
            if message is None:
                return
            data = json.loads(message)
            if data["type"] == "job":
                jobs.append(data["job"])
                continue
            now = time.time()
            for event in data["events"]:
                events.append(event)
                received.append(now)
                if until is not None and until(event):
                    return

    try:
        await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(
            f"job {job_id} did not end; got {jobs[-1:]} and {events[-3:]}"
        ) from None
    finally:
        ws.close()
    return events, jobs, received


async def wait_for_state(jp_fetch, job_id: str, states, timeout: float = 120) -> dict:
    """The job's record once it is in one of ``states`` (a hang guard, not a timing check)."""
    deadline = time.monotonic() + timeout
    while True:
        status, job = await fetch_json(jp_fetch, "hub-api", "jobs", job_id)
        assert status == 200
        if job["state"] in states:
            return job
        assert time.monotonic() < deadline, f"job stayed {job['state']}"
        await asyncio.sleep(0.05)


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def platform_process(url: str, env: dict[str, str], log: Path):
    """The real platform process serving ``url`` with ``env`` (its ``HUB_HOME``), until the
    block ends; its output goes to ``log``."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - argv list
            [sys.executable, "-m", "jupyter_hub_api.platform"],
            env={**env, "HUB_PLATFORM_URL": url},
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the platform did not start"
            time.sleep(0.05)
        yield proc
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen, grace: float = 20) -> None:
    """TERM to the process group of ``proc`` (started with a new session), KILL after ``grace``."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
