"""The test console's streamed call: ``POST /hub-api/platform/apis/<api>/invoke`` with
``"stream": true`` relays the gateway's Server-Sent Events to the browser as they arrive.

Real Jupyter server, real platform, a real generator handler held at a socket gate after its
first output: the first event must reach the browser while the handler is still held.
"""

from __future__ import annotations

import json
import socket
import threading

from tornado.httpclient import HTTPClientError

from .conftest import follow, hub_init, post_json
from .test_platform import platform  # noqa: F401 - the real platform fixture

GENERATOR = """from hub import hub_handler


@hub_handler
def tokens(inputs: dict, context):
    import socket

    for i in range(inputs["n"]):
        yield {"token": i}
        if i == 0:  # the rest only once the test saw the first one
            with socket.create_connection(("127.0.0.1", inputs["gate"])) as gate:
                gate.recv(1)
    if inputs.get("fail"):
        raise RuntimeError("the stream broke after " + str(inputs["n"]))
"""


def parse_events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.split("\n\n"):
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            out.append((event, json.loads("\n".join(data))))
    return out


async def test_a_streamed_call_arrives_event_by_event(
    platform,  # noqa: F811
    jp_fetch,
    jp_ws_fetch,
    jp_root_dir,
    http_server_client,
    jp_auth_header,
    jp_base_url,
):
    project = hub_init(jp_root_dir, "tokens")
    (project / "src" / "main.py").write_text(GENERATOR)
    _, job = await post_json(
        jp_fetch, "hub-api", "jobs", body={"kind": "build+deploy", "project": "tokens"}
    )
    _, jobs, _ = await follow(jp_ws_fetch, job["id"], timeout=180)
    assert jobs[-1]["state"] == "succeeded", jobs[-1]

    gate = socket.create_server(("127.0.0.1", 0))
    port = gate.getsockname()[1]
    released = threading.Event()
    seen_first_while_held = []

    def hold() -> None:
        conn, _ = gate.accept()
        with conn:
            released.wait(120)  # a guard against a hang, not a timing
            conn.sendall(b"x")

    threading.Thread(target=hold, daemon=True).start()
    received: list[bytes] = []

    def on_chunk(chunk: bytes) -> None:
        received.append(chunk)
        so_far = b"".join(received).decode()
        if not released.is_set() and {"token": 0} in [d for e, d in parse_events(so_far)]:
            seen_first_while_held.append(True)
            released.set()

    url = f"{jp_base_url.rstrip('/')}/hub-api/platform/apis/tokens/invoke"
    body = {"method": "POST", "input": {"n": 3, "gate": port, "fail": True}, "stream": True}
    response = await http_server_client.fetch(
        url,
        method="POST",
        body=json.dumps(body),
        headers=jp_auth_header,
        streaming_callback=on_chunk,
        request_timeout=120,
    )
    gate.close()
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert seen_first_while_held == [True]  # the first output came before the second was made
    events = parse_events(b"".join(received).decode())
    kinds = [e for e, _ in events]
    assert kinds == ["start", "message", "message", "message", "error"], events
    invocation_id = events[0][1]["invocation_id"]
    assert [d for e, d in events if e == "message"] == [{"token": i} for i in range(3)]
    error = events[-1][1]
    assert error["invocation_id"] == invocation_id and error["status"] == 500
    assert "the stream broke after 3" in error["error"]["message"]

    # A handler refusal before any output is the usual JSON answer (here: a bad input).
    status, answer = await post_json(
        jp_fetch,
        "hub-api",
        "platform",
        "apis",
        "tokens",
        "invoke",
        body={"method": "POST", "input": {"m": 1}, "stream": True},
    )
    assert status == 200 and answer["status"] == 500, answer
    assert answer["body"]["body"]["error"]["type"] == "KeyError"

    # stream with GET is refused in one sentence.
    try:
        await http_server_client.fetch(
            url,
            method="POST",
            body=json.dumps({"method": "GET", "stream": True}),
            headers=jp_auth_header,
        )
    except HTTPClientError as err:
        assert err.code == 400
        refusal = json.loads(err.response.body)
        assert "'stream' needs method POST" in refusal["message"]
        assert refusal["reason"] == "stream_needs_post"
    else:
        raise AssertionError("GET with stream was not refused")
