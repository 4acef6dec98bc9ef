"""Batch handlers and streaming handlers through the real platform and gateway.

A batch handler (``@hub_handler(batch=True, ...)``) gets the requests that wait together as one
list, yet every request keeps its own answer, invocation id, log lines, error and quota count.
A generator handler streams its outputs as Server-Sent Events to a client that accepts
``text/event-stream`` (read here with httpx's streaming), and answers one JSON list otherwise.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

QUOTA = 30

BATCH_MAIN = """\
import socket

from hub import hub_handler


@hub_handler(batch=True, max_batch_size=32, max_wait_ms=5)
def predict(inputs, contexts):
    for x in inputs:
        if isinstance(x, dict) and "gate" in x:  # held until the test writes to its socket
            with socket.create_connection(("127.0.0.1", x["gate"])) as gate:
                gate.recv(1)
    print("batch of", len(inputs))
    return [
        ValueError("item " + str(x) + " is bad") if x == "bad" else {"x": x, "n": len(inputs)}
        for x in inputs
    ]
"""

STREAM_MAIN = """\
import socket

from hub import hub_handler


@hub_handler
def generate(inputs, context):
    print("streaming", inputs["n"])
    for i in range(inputs["n"]):
        yield {"token": i}
        if i == 0 and "gate" in inputs:  # the next one only once the test saw the first
            with socket.create_connection(("127.0.0.1", inputs["gate"])) as gate:
                gate.recv(1)
    if inputs.get("fail"):
        raise RuntimeError("the stream broke after " + str(inputs["n"]))
"""


@pytest.fixture(scope="module")
def hub(launch_platform):
    """A platform whose plan has a small monthly quota and no rate limit, and both APIs."""
    config = {
        "plans": {"free": {"rate_limit_per_second": 0, "monthly_calls": QUOTA, "max_apis": None}}
    }
    proc = launch_platform(config)
    projects = [
        proc.make_project("batched", BATCH_MAIN, runtime={"max_workers": 1, "timeout_seconds": 60}),
        proc.make_project("streamed", STREAM_MAIN),
    ]
    for project in projects:  # the standard library is all they need: a quicker environment
        config_path = project / "hub_config.json"
        config = json.loads(config_path.read_text())
        config_path.write_text(json.dumps({**config, "base_packages": False}))
    batch, stream = (proc.deploy(project) for project in projects)
    return proc, batch["endpoint"], stream["endpoint"], proc.key()


def usage_calls(proc) -> int:
    return proc.control("GET", "/api/v1/usage").json()["total_calls"]


def invocations(proc, api: str) -> dict:
    rows = proc.control("GET", f"/api/v1/apis/{api}/invocations?limit=100").json()["invocations"]
    return {row["id"]: row for row in rows}


def log_lines(proc, api: str, invocation_id: str) -> list[str]:
    resp = proc.control("GET", f"/api/v1/apis/{api}/logs?invocation_id={invocation_id}")
    return [line["line"] for line in resp.json()["lines"]]


def post(endpoint: str, key: str, value, **headers) -> httpx.Response:
    headers = {"x-api-key": key, "Content-Type": "application/json", **headers}
    return httpx.post(endpoint, headers=headers, content=json.dumps(value), timeout=60)


def read_events(response: httpx.Response):
    """Yield ``(event, data)`` of a Server-Sent Events response as the events arrive."""
    event, data = "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def test_concurrent_requests_are_batched_each_metered_and_failed_alone(hub):
    proc, endpoint, _, key = hub
    before = usage_calls(proc)
    inputs = ["a", "b", "bad", "c", "d", "e", "f", "g"]
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(60)
        gate = {"gate": server.getsockname()[1]}
        with ThreadPoolExecutor(len(inputs) + 1) as pool:
            held = pool.submit(post, endpoint, key, gate)
            connection, _ = server.accept()  # the worker is in the handler, held
            sent = threading.Barrier(len(inputs) + 1)

            def client(value):
                with httpx.Client(timeout=60) as http:
                    headers = {"x-api-key": key, "Content-Type": "application/json"}
                    request = http.build_request(
                        "POST", endpoint, headers=headers, content=json.dumps(value)
                    )
                    sent.wait(60)
                    return http.send(request)

            answers = [pool.submit(client, value) for value in inputs]
            sent.wait(60)
            time.sleep(0.5)  # let the gateway queue them behind the held worker
            connection.sendall(b"x")
            connection.close()
            assert held.result().json()["body"]["output"]["n"] == 1
            responses = [answer.result() for answer in answers]
    sizes = set()
    ids = []
    for value, resp in zip(inputs, responses, strict=True):
        body = resp.json()["body"]
        ids.append(body["invocation_id"])
        if value == "bad":
            assert resp.status_code == 500
            assert body["error"] == {"type": "ValueError", "message": "item bad is bad"}
        else:
            assert resp.status_code == 200, resp.text
            assert body["output"]["x"] == value
            sizes.add(body["output"]["n"])
    assert max(sizes) > 1, f"no two requests shared a batch: {sizes}"
    # Each request is its own invocation: its own id, row, status, log lines and quota count.
    assert len(set(ids)) == len(inputs)
    rows = invocations(proc, "batched")
    for value, invocation_id, resp in zip(inputs, ids, responses, strict=True):
        row = rows[invocation_id]
        assert row["status"] == resp.status_code and row["counted"]
        assert json.loads(row["input"]) == value
        n = 1 if value == "bad" else resp.json()["body"]["output"]["n"]
        lines = log_lines(proc, "batched", invocation_id)
        if value == "bad":
            assert "ValueError: item bad is bad" in lines
        assert f"batch of {n}" in lines or value == "bad"
    assert usage_calls(proc) == before + 1 + len(inputs)


def test_a_generator_streams_server_sent_events_and_is_metered_once(hub):
    proc, _, endpoint, key = hub
    headers = {"x-api-key": key, "Accept": "text/event-stream", "Content-Type": "application/json"}
    before = usage_calls(proc)
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(60)
        body = json.dumps({"n": 3, "gate": server.getsockname()[1]})
        with httpx.stream("POST", endpoint, headers=headers, content=body, timeout=60) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            invocation_id = resp.headers["x-invocation-id"]
            events = read_events(resp)
            assert next(events) == ("start", {"invocation_id": invocation_id})
            # The first output arrives while the handler is still held after yielding it:
            # the answer is a stream, not a buffered list.
            assert next(events) == ("message", {"token": 0})
            connection, _ = server.accept()
            connection.sendall(b"x")
            connection.close()
            rest = list(events)
    assert rest == [
        ("message", {"token": 1}),
        ("message", {"token": 2}),
        ("end", {"invocation_id": invocation_id, "items": 3}),
    ]
    assert usage_calls(proc) == before + 1  # one call, whatever the number of events
    row = invocations(proc, "streamed")[invocation_id]
    assert row["status"] == 200 and json.loads(row["output"]) == [{"token": i} for i in range(3)]
    assert log_lines(proc, "streamed", invocation_id) == ["streaming 3"]


def test_a_stream_that_fails_midway_ends_with_an_error_event(hub):
    proc, _, endpoint, key = hub
    headers = {"x-api-key": key, "Accept": "text/event-stream"}
    body = json.dumps({"n": 2, "fail": True})
    with httpx.stream("POST", endpoint, headers=headers, content=body, timeout=60) as resp:
        invocation_id = resp.headers["x-invocation-id"]
        events = list(read_events(resp))
    assert events[1:3] == [("message", {"token": 0}), ("message", {"token": 1})]
    assert events[-1] == (
        "error",
        {
            "invocation_id": invocation_id,
            "status": 500,
            "error": {"type": "RuntimeError", "message": "the stream broke after 2"},
        },
    )
    row = invocations(proc, "streamed")[invocation_id]
    assert row["status"] == 500 and row["error_type"] == "RuntimeError"


def test_without_the_accept_header_the_outputs_are_one_json_list(hub):
    proc, batch_endpoint, endpoint, key = hub
    resp = post(endpoint, key, {"n": 3})
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    assert resp.json()["body"]["output"] == [{"token": 0}, {"token": 1}, {"token": 2}]
    # A handler that returns, asked for a stream: its one output as the one event.
    headers = {"x-api-key": key, "Accept": "text/event-stream"}
    with httpx.stream("POST", batch_endpoint, headers=headers, content='"z"', timeout=60) as r:
        events = list(read_events(r))
    assert [name for name, _ in events] == ["start", "message", "end"]
    assert events[1][1] == {"x": "z", "n": 1}
    # A failure before the first output is the usual JSON error envelope and status.
    with httpx.stream("POST", endpoint, headers=headers, content="{bad", timeout=60) as r:
        r.read()
        assert r.status_code == 400 and r.json()["body"]["error"]["type"] == "bad_json"


def test_hub_invoke_stream_prints_each_output_as_it_arrives(hub):
    proc, _, _, _ = hub
    done = proc.hub("invoke", "streamed", '{"n": 3}', "--stream", check=True)
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {"token": 0},
        {"token": 1},
        {"token": 2},
    ]
    as_json = proc.hub("invoke", "streamed", '{"n": 2}', "--stream", "--json", check=True)
    result = json.loads(as_json.stdout.splitlines()[-1])
    assert result["outputs"] == [{"token": 0}, {"token": 1}] and result["invocation_id"]
    failed = proc.hub("invoke", "streamed", '{"n": 1, "fail": true}', "--stream")
    assert failed.returncode == 1 and "the stream broke after 1" in failed.stderr
    assert failed.stdout.splitlines() == ['{"token": 0}']


def test_the_quota_counts_requests_not_batches(hub):
    proc, endpoint, _, key = hub
    # Concurrent requests batched together: only the one past the quota is refused.
    left = QUOTA - usage_calls(proc)
    with ThreadPoolExecutor(left + 1) as pool:
        statuses = sorted(
            r.status_code for r in pool.map(lambda i: post(endpoint, key, i), range(left + 1))
        )
    assert statuses == [200] * left + [429]
    assert usage_calls(proc) == QUOTA
