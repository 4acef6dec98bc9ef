"""The deployments panel's endpoints against the real platform, fed by a real deploy job."""

from __future__ import annotations

import json
import os

import pytest

from .conftest import fetch_json, follow, free_port, hub_init, platform_process, post_json

MAIN_PY = """from hub import hub_handler

print("echo api loading", flush=True)


@hub_handler
def inference_handler(inputs, context):
    print("called with", inputs, flush=True)
    return {"echo": inputs}
"""


@pytest.fixture
def platform(hub_home, monkeypatch):
    """The real platform process on a free loopback port, sharing the test's HUB_HOME."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HUB_PLATFORM_URL", url)
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    monkeypatch.delenv("HUB_PLATFORM_TOKEN", raising=False)
    with platform_process(url, dict(os.environ), hub_home / "platform-test.log"):
        yield url


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
    build_id = jobs[-1]["result"]["build_id"]

    # The API deployed, with the version the job built live.
    status, apis = await fetch_json(jp_fetch, "hub-api", "platform", "apis")
    assert status == 200
    (echo,) = [a for a in apis["apis"] if a["name"] == "echo"]
    assert echo["user"] == "alice" and echo["endpoint"] == f"{platform}/alice/echo"
    assert echo["live_version"]["build_id"] == build_id
    assert echo["live_version"]["version_number"] == 1 and echo["calls_this_month"] == 0
    status, versions = await fetch_json(jp_fetch, "hub-api", "platform", "apis", "echo", "versions")
    assert status == 200 and versions["api"] == "echo"
    assert [(v["build_id"], v["version_number"], v["live"]) for v in versions["versions"]] == [
        (build_id, 1, True)
    ]

    status, call = await post_json(
        jp_fetch, "hub-api", "platform", "apis", "echo", "invoke", body={"body": "hello"}
    )
    assert status == 200, call
    assert call["status"] == 200 and call["body"]["body"]["output"] == {"echo": "hello"}
    assert call["endpoint"] == f"{platform}/alice/echo" and call["duration_ms"] > 0
    invocation_id = call["body"]["body"]["invocation_id"]

    # The API name is one path segment of the gateway URL, whatever it holds: "echo?x=1" used
    # to become the query string of a call to "echo".
    for odd in ("echo?x=1", "echo#frag", "echo x", "echo%2Fx"):
        status, other = await post_json(
            jp_fetch, "hub-api", "platform", "apis", odd, "invoke", body={"body": "sneaky"}
        )
        assert status == 200 and other["status"] == 404, (odd, other)
        assert "/alice/echo%" in other["endpoint"] and "sneaky" not in str(other["body"])

    status, created = await post_json(jp_fetch, "hub-api", "platform", "keys", body={"name": "ci"})
    assert status == 201 and created["secret"]
    key_id = created["key"]["id"]
    status, shown = await post_json(jp_fetch, "hub-api", "platform", "keys", key_id, "reveal")
    assert status == 200 and shown["secret"] == created["secret"]
    status, listed = await fetch_json(jp_fetch, "hub-api", "platform", "keys")
    assert key_id in {k["id"] for k in listed["keys"]}
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
    for parts, kwargs in [
        ((key_id, "reveal"), {"method": "POST", "body": ""}),
        ((key_id,), {"method": "DELETE"}),
        ((key_id,), {"method": "PATCH", "body": '{"enabled": false}'}),
        (("no-such-key", "enable"), {"method": "POST", "body": ""}),
    ]:
        status, error = await fetch_json(jp_fetch, "hub-api", "platform", "keys", *parts, **kwargs)
        assert status == 404 and set(error) == {"message", "reason"}, (parts, error)

    # One call answered (the 403 and the 404s are not counted), and it is in the history
    # with its input and output, and the line the handler printed in the logs.
    status, usage = await fetch_json(jp_fetch, "hub-api", "platform", "usage")
    assert status == 200 and usage["total_calls"] == 1
    assert {a["api"]: a["calls"] for a in usage["apis"]} == {"echo": 1}
    status, history = await fetch_json(
        jp_fetch, "hub-api", "platform", "apis", "echo", "invocations"
    )
    assert status == 200 and history["api"] == "echo"
    (answered,) = [i for i in history["invocations"] if i["status"] == 200]
    assert answered["id"] == invocation_id and answered["counted"] is True
    assert json.loads(answered["input"]) == "hello"
    assert json.loads(answered["output"]) == {"echo": "hello"}
    status, logs = await fetch_json(
        jp_fetch, "hub-api", "platform", "apis", "echo", "logs", params={"tail": "50"}
    )
    assert status == 200 and logs["api"] == "echo"
    lines = {(entry["invocation_id"], entry["line"]) for entry in logs["lines"]}
    assert (None, "echo api loading") in lines
    assert (invocation_id, "called with hello") in lines
    status, one = await fetch_json(
        jp_fetch,
        "hub-api",
        "platform",
        "apis",
        "echo",
        "logs",
        params={"invocation_id": invocation_id},
    )
    assert [entry["line"] for entry in one["lines"]] == ["called with hello"]

    status, error = await fetch_json(jp_fetch, "hub-api", "platform", "apis", "nope")
    assert status == 404 and set(error) == {"message", "reason"}


async def test_an_unreachable_platform_is_a_503_with_a_sentence(jp_fetch, monkeypatch):
    monkeypatch.setenv("HUB_PLATFORM_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HUB_PLATFORM_TOKEN", "not-used")
    status, error = await fetch_json(jp_fetch, "hub-api", "platform", "apis")
    assert status == 503
    assert error["reason"] == "platform_unreachable" and "not reachable" in error["message"]
