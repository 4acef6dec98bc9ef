"""The deployments panel's endpoints against the real platform, fed by a real deploy job."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import fetch_json, follow, hub_init, post_json

MAIN_PY = """from hub import hub_handler

print("echo api loading", flush=True)


@hub_handler
def inference_handler(inputs, context):
    print("called with", inputs, flush=True)
    return {"echo": inputs}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def platform(hub_home, monkeypatch):
    """The real platform process on a free loopback port, sharing the test's HUB_HOME."""
    url = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("HUB_PLATFORM_URL", url)
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    monkeypatch.delenv("HUB_PLATFORM_TOKEN", raising=False)
    log = open(hub_home / "platform-test.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(  # noqa: S603 - argv list
        [sys.executable, "-m", "jupyter_hub_api.platform"],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (hub_home / "platform-test.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the platform did not start"
            time.sleep(0.05)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


async def test_deploy_job_then_panel_lists_invokes_and_manages_keys(
    platform, jp_fetch, jp_ws_fetch, jp_root_dir
):
    project = hub_init(jp_root_dir, "echo")
    (project / "src" / "main.py").write_text(MAIN_PY)
    _, job = await post_json(
        jp_fetch, "hub-api", "jobs", body={"kind": "build+deploy", "project": "echo"}
    )
    events, jobs, _ = await follow(jp_ws_fetch, job["id"], timeout=180)
    assert jobs[-1]["state"] == "succeeded", (jobs[-1], events[-5:])

    status, apis = await fetch_json(jp_fetch, "hub-api", "platform", "apis")
    assert status == 200
    assert "echo" in str(apis)
    status, versions = await fetch_json(jp_fetch, "hub-api", "platform", "apis", "echo", "versions")
    assert status == 200 and versions

    status, call = await post_json(
        jp_fetch, "hub-api", "platform", "apis", "echo", "invoke", body={"body": "hello"}
    )
    assert status == 200, call
    assert call["status"] == 200 and call["body"]["body"]["output"] == {"echo": "hello"}
    assert call["endpoint"].endswith("/alice/echo") and call["duration_ms"] > 0

    status, created = await post_json(jp_fetch, "hub-api", "platform", "keys", body={"name": "ci"})
    assert status == 201 and created["secret"]
    key_id = created["key"]["id"]
    status, shown = await post_json(jp_fetch, "hub-api", "platform", "keys", key_id, "reveal")
    assert status == 200 and shown["secret"] == created["secret"]
    status, listed = await fetch_json(jp_fetch, "hub-api", "platform", "keys")
    assert created["secret"] not in str(listed)  # masked in the list
    status, disabled = await post_json(jp_fetch, "hub-api", "platform", "keys", key_id, "disable")
    assert status == 200 and disabled["key"]["enabled"] is False
    status, refused = await post_json(
        jp_fetch,
        "hub-api",
        "platform",
        "apis",
        "echo",
        "invoke",
        body={"input": 1, "key_id": key_id},
    )
    assert status == 200 and refused["status"] == 403  # the API's answer, shown in the console
    status, enabled = await fetch_json(
        jp_fetch, "hub-api", "platform", "keys", key_id, method="PATCH", body='{"enabled": true}'
    )
    assert status == 200 and enabled["key"]["enabled"] is True
    status, _ = await fetch_json(jp_fetch, "hub-api", "platform", "keys", key_id, method="DELETE")
    assert status == 200

    status, usage = await fetch_json(jp_fetch, "hub-api", "platform", "usage")
    assert status == 200 and usage
    status, history = await fetch_json(
        jp_fetch, "hub-api", "platform", "apis", "echo", "invocations"
    )
    assert status == 200 and "invocations" in history and history["invocations"]
    status, logs = await fetch_json(
        jp_fetch, "hub-api", "platform", "apis", "echo", "logs", params={"tail": "50"}
    )
    assert status == 200 and "echo api loading" in str(logs)

    status, error = await fetch_json(jp_fetch, "hub-api", "platform", "apis", "nope")
    assert status == 404 and set(error) == {"message", "reason"}


async def test_an_unreachable_platform_is_a_503_with_a_sentence(jp_fetch, monkeypatch):
    monkeypatch.setenv("HUB_PLATFORM_URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("HUB_PLATFORM_TOKEN", "not-used")
    status, error = await fetch_json(jp_fetch, "hub-api", "platform", "apis")
    assert status == 503
    assert error["reason"] == "platform_unreachable" and "not reachable" in error["message"]
