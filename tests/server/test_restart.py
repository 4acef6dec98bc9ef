"""A server restart marks the jobs the previous server left running as interrupted.

The previous server is a real ``jupyter server`` process: a build job is started on it, then it
is killed (as a crash would), and the test's server opens the same job database.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import fetch_json, hub_init, slow_package


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def interrupted_job(jobs_dir, jp_root_dir, tmp_path):
    """Start a slow build on a real server process, then kill that server; yield the job."""
    jp_root_dir.mkdir(parents=True, exist_ok=True)
    hub_init(jp_root_dir, "slow", requirements=slow_package(tmp_path, seconds=60))
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path / "previous-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
    )
    server = subprocess.Popen(  # noqa: S603 - argv list
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={jp_root_dir}",
            "--ServerApp.jpserver_extensions=jupyter_hub_api=True",
            f"--HubAPIApp.jobs_dir={jobs_dir}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    pgid = None
    try:
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/hub-api", headers={"Authorization": f"token {token}"}
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/jobs").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (
                "the first server did not start"
            )
            time.sleep(0.2)
        job = client.post("/jobs", json={"kind": "build", "project": "slow"}).json()
        while True:  # until uv is building the slow package
            page = client.get(f"/jobs/{job['id']}/events").json()
            job = page["job"]
            if any("Building slowpkg" in e.get("line", "") for e in page["events"]):
                break
            assert time.monotonic() < deadline, page
            time.sleep(0.05)
        pgid = job["pid"]
        server.send_signal(signal.SIGKILL)  # a crash: no clean shutdown of the extension
        server.wait(10)
        yield job
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        if pgid:
            try:
                os.killpg(pgid, signal.SIGKILL)  # the crashed server's orphaned build
            except ProcessLookupError:
                pass


@pytest.fixture
def hub_api_config(interrupted_job):
    """The test server starts only after the first server has crashed over the same store."""
    return {}


async def test_a_restarted_server_marks_the_job_it_interrupted(jp_fetch, interrupted_job):
    job_id = interrupted_job["id"]
    status, job = await fetch_json(jp_fetch, "hub-api", "jobs", job_id)
    assert status == 200
    assert job["state"] == "interrupted"
    assert job["error"]["type"] == "interrupted" and job["finished_at"]
    _, page = await fetch_json(jp_fetch, "hub-api", "jobs", job_id, "events")
    # The log written by the first server is kept, and it now ends with the interruption.
    assert page["events"][0]["state"] == "queued"
    assert any(e["event"] == "step" and e["name"] == "validate" for e in page["events"])
    assert page["events"][-1] == {**page["events"][-1], "event": "state", "state": "interrupted"}
    assert [e["offset"] for e in page["events"]] == list(range(len(page["events"])))
    # The project is free again: a new build is accepted.
    status, _ = await fetch_json(
        jp_fetch, "hub-api", "jobs", job_id, "rerun", method="POST", body=""
    )
    assert status == 202
