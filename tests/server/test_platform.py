"""The deployments panel's endpoints against the real platform, fed by a real deploy job."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess

import pytest

from .conftest import HUB, fetch_json, follow, free_port, hub_init, platform_process, post_json

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
    # The console's "No key" choice: what a caller without a key gets (the gateway's 401).
    status, keyless = await post_json(
        jp_fetch, "hub-api", "platform", "apis", "echo", "invoke", body={"input": 1, "no_key": True}
    )
    assert status == 200 and keyless["status"] == 401, keyless
    assert "x-api-key header" in json.dumps(keyless["body"])  # the gateway's sentence
    status, both = await post_json(
        jp_fetch,
        "hub-api",
        "platform",
        "apis",
        "echo",
        "invoke",
        body={"no_key": True, "key_id": key_id},
    )
    assert status == 200 and both["status"] == 401  # no_key wins: no key is sent
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

    # panel (issue 11.4): the panel's Delete. The API goes with its versions, history and
    # logs; a caller gets the gateway's 404; deleting it again is the platform's 404.
    status, deleted = await fetch_json(
        jp_fetch, "hub-api", "platform", "apis", "echo", method="DELETE"
    )
    assert status == 200 and deleted == {"api": "echo", "deleted": True}
    status, apis = await fetch_json(jp_fetch, "hub-api", "platform", "apis")
    assert status == 200 and "echo" not in {a["name"] for a in apis["apis"]}
    for part in ("versions", "invocations", "logs"):
        status, error = await fetch_json(jp_fetch, "hub-api", "platform", "apis", "echo", part)
        assert status == 404 and "echo" in error["message"], (part, error)
    status, gone = await post_json(
        jp_fetch, "hub-api", "platform", "apis", "echo", "invoke", body={"body": "hello"}
    )
    assert status == 200 and gone["status"] == 404, gone
    status, again = await fetch_json(
        jp_fetch, "hub-api", "platform", "apis", "echo", method="DELETE"
    )
    assert status == 404 and set(again) == {"message", "reason"} and "echo" in again["message"]


async def test_an_unreachable_platform_is_a_503_with_a_sentence(jp_fetch, monkeypatch):
    monkeypatch.setenv("HUB_PLATFORM_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HUB_PLATFORM_TOKEN", "not-used")
    status, error = await fetch_json(jp_fetch, "hub-api", "platform", "apis")
    assert status == 503
    assert error["reason"] == "platform_unreachable" and "not reachable" in error["message"]


async def test_the_session_starts_the_platform_again_when_it_went_away(
    hub_home, jp_fetch, monkeypatch
):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HUB_PLATFORM_URL", url)
    monkeypatch.delenv("HUB_PLATFORM_TOKEN", raising=False)
    with platform_process(url, dict(os.environ), hub_home / "platform-test.log"):
        status, _ = await fetch_json(jp_fetch, "hub-api", "platform", "apis")
        assert status == 200
    # That platform is gone: the session's connection is refused, so it finds the platform
    # again, starting the embedded one (platform_autostart), and answers.
    try:
        status, body = await fetch_json(jp_fetch, "hub-api", "platform", "apis")
        assert status == 200 and body["apis"] == [], body
    finally:
        subprocess.run([*HUB, "platform", "stop"], check=True, capture_output=True, timeout=60)  # noqa: S603


async def test_a_body_too_large_to_forward_is_a_413_before_the_platform_is_asked(
    jp_fetch, monkeypatch
):
    # No platform at all: a 503 would mean the platform was asked first.
    monkeypatch.setenv("HUB_PLATFORM_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HUB_PLATFORM_TOKEN", "not-used")
    status, error = await post_json(
        jp_fetch, "hub-api", "platform", "keys", body={"name": "k" * (70 * 1024)}
    )
    assert status == 413 and error["reason"] == "body_too_large"
    assert "64 KiB" in error["message"]


class CountingProxy:
    """A TCP relay on loopback in front of the platform that counts the connections it
    accepted and records the request lines it relayed (``METHOD /path``)."""

    def __init__(self, target: str) -> None:
        self.host, port = target.removeprefix("http://").split(":")
        self.port = int(port)
        self.accepted = 0
        self.sent = bytearray()
        self.server = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    def requests(self) -> list[str]:
        lines = re.findall(rb"(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/1\.1\r\n", bytes(self.sent))
        return [f"{method.decode()} {path.decode()}" for method, path in lines]

    async def _relay(self, reader, writer) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)

        async def pipe(src, dst, record: bool) -> None:
            try:
                while data := await src.read(1 << 16):
                    if record:
                        self.sent += data
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    def close(self) -> None:
        self.server.close()


async def test_the_panel_reuses_one_connection_and_a_test_call_asks_the_platform_little(
    platform, jp_fetch, monkeypatch
):
    proxy = CountingProxy(platform)
    monkeypatch.setenv("HUB_PLATFORM_URL", await proxy.start())
    try:
        # The first request finds the platform (its probe is a connection of its own).
        status, _ = await fetch_json(jp_fetch, "hub-api", "platform", "apis")
        assert status == 200
        status, call = await post_json(
            jp_fetch, "hub-api", "platform", "apis", "nope", "invoke", body={"body": 1}
        )
        assert status == 200 and call["status"] == 404  # the gateway's answer, shown as data
        status, listed = await fetch_json(jp_fetch, "hub-api", "platform", "keys")
        default_key = next(k["id"] for k in listed["keys"] if k["enabled"])
        connections, seen = proxy.accepted, len(proxy.requests())

        for _ in range(5):
            status, _ = await fetch_json(jp_fetch, "hub-api", "platform", "apis")
            assert status == 200
        status, created = await post_json(
            jp_fetch, "hub-api", "platform", "keys", body={"name": "reuse"}
        )
        assert status == 201
        assert proxy.requests()[seen:] == ["GET /api/v1/apis"] * 5 + ["POST /api/v1/keys"]

        # A test call with the default key asks the control plane for the key list and the
        # key (the gateway's address was asked once, by the first call), then calls the API.
        seen = len(proxy.requests())
        status, call = await post_json(
            jp_fetch, "hub-api", "platform", "apis", "nope", "invoke", body={"body": 1}
        )
        assert status == 200 and call["status"] == 404
        assert control_plane(proxy.requests()[seen:]) == [
            "GET /api/v1/keys",
            f"POST /api/v1/keys/{default_key}/reveal",
        ]
        # With a key's id: one control-plane call.
        seen = len(proxy.requests())
        key_id = created["key"]["id"]
        status, call = await post_json(
            jp_fetch, "hub-api", "platform", "apis", "nope", "invoke", body={"key_id": key_id}
        )
        assert status == 200 and call["status"] == 404
        assert control_plane(proxy.requests()[seen:]) == [f"POST /api/v1/keys/{key_id}/reveal"]

        # All of it over the connection the first requests opened.
        assert proxy.accepted == connections
    finally:
        proxy.close()


def control_plane(requests: list[str]) -> list[str]:
    """The control-plane requests of ``requests`` (a gateway call may come this way too)."""
    return [r for r in requests if " /api/v1/" in r]
