"""Asynchronous invocations (``Prefer: respond-async``) through a real platform process, its
real workers and the real CLI: 202 with the invocation's URL, the result fetched later, past
the synchronous timeout, metered once, other users kept out, and a restart (SIGKILL) that
loses nothing."""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
import psutil
import pytest
from platform_helpers import PlatformProcess, wait_until

SLOW_MAIN = """
import time

from hub import hub_handler


@hub_handler
def inference_handler(inputs, context):
    if isinstance(inputs, dict) and "sleep" in inputs:
        time.sleep(inputs["sleep"])
    if inputs == "fail":
        raise ValueError("asked to fail")
    if inputs == "big":
        return "x" * 5000
    return {"echo": inputs, "invocation_id": context.invocation_id}
"""

ASYNC = {"Prefer": "respond-async", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """A platform of its own (its quota counted), an API whose synchronous limit is 1 s."""
    home = tmp_path_factory.mktemp("async-home")
    config = {
        "plans": {"free": {"rate_limit_per_second": 0, "monthly_calls": 1000}},
        "async": {
            "max_output_bytes": 2000,
            "callback_allow": ["127.0.0.1/32"],
            "callback_backoff_seconds": 0.2,
        },
    }
    proc = PlatformProcess(home, config).start()
    project = proc.make_project(
        "slow",
        SLOW_MAIN,
        runtime={"timeout_seconds": 1, "async_timeout_seconds": 30, "max_workers": 2},
    )
    proc.deploy(project)
    yield proc
    proc.stop()


def submit(proc, body, key=None, headers=None) -> httpx.Response:
    h = {**ASYNC, "x-api-key": key or proc.key(), **(headers or {})}
    return httpx.post(proc.endpoint("slow"), headers=h, content=json.dumps(body), timeout=30)


def result(proc, url, key=None, done=True) -> httpx.Response:
    key = key or proc.key()

    def fetched():
        resp = httpx.get(url, headers={"x-api-key": key}, timeout=30)
        return resp if resp.json()["body"]["status"] in ("succeeded", "failed") else None

    if not done:
        return httpx.get(url, headers={"x-api-key": key}, timeout=30)
    return wait_until(fetched, "the asynchronous call to finish")


def usage(proc) -> dict:
    return proc.control("GET", "/api/v1/usage").json()


def test_a_call_past_the_synchronous_timeout_runs_asynchronously_and_is_fetched_later(slow):
    key = slow.key()
    sync = httpx.post(
        slow.endpoint("slow"),
        headers={"x-api-key": key, "Content-Type": "application/json"},
        content=json.dumps({"sleep": 1.5}),
        timeout=30,
    )
    assert sync.status_code == 504  # the synchronous limit holds

    resp = submit(slow, {"sleep": 1.5, "n": 1}, key)
    assert resp.status_code == 202, resp.text
    envelope = resp.json()
    assert envelope["statusCode"] == 202
    body = envelope["body"]
    assert body["status"] == "queued"
    call_id = body["invocation_id"]
    assert resp.headers["location"] == body["url"]
    assert body["url"] == f"{slow.url}/alice/slow/invocations/{call_id}"
    assert resp.headers["preference-applied"] == "respond-async"

    early = result(slow, body["url"], key, done=False)
    assert early.status_code == 200
    assert early.json()["body"]["status"] in ("queued", "running")
    # The panel's history lists it before it is metered, marked as an async call in flight.
    rows = slow.control("GET", "/api/v1/apis/slow/invocations?limit=50").json()["invocations"]
    pending = [r for r in rows if r["id"] == call_id]
    assert len(pending) == 1, rows
    assert pending[0]["mode"] == "async" and pending[0]["status"] == 202
    assert pending[0]["state"] in ("queued", "running") and not pending[0]["counted"]

    done = result(slow, body["url"], key)
    assert done.status_code == 200
    assert done.json() == {
        "statusCode": 200,
        "body": {
            "output": {"echo": {"sleep": 1.5, "n": 1}, "invocation_id": call_id},
            "invocation_id": call_id,
            "status": "succeeded",
        },
    }
    # Metered once: one history row with that id, counted.
    rows = slow.control("GET", "/api/v1/apis/slow/invocations?limit=50").json()["invocations"]
    mine = [r for r in rows if r["id"] == call_id]
    assert len(mine) == 1 and mine[0]["status"] == 200 and mine[0]["counted"]
    assert mine[0]["mode"] == "async" and mine[0]["state"] == "succeeded"
    assert {r["mode"] for r in rows if r["status"] == 504} == {"sync"}  # the synchronous try


def test_a_failing_call_is_kept_as_its_error_envelope_and_counted_once(slow):
    before = usage(slow)["total_calls"]
    resp = submit(slow, "fail")
    assert resp.status_code == 202
    url = resp.json()["body"]["url"]
    done = result(slow, url)
    assert done.status_code == 500
    body = done.json()["body"]
    assert body["status"] == "failed"
    assert body["error"]["type"] == "ValueError" and "asked to fail" in body["error"]["message"]
    assert usage(slow)["total_calls"] == before + 1
    # Fetching again changes nothing (no second count).
    assert result(slow, url).json() == done.json()
    assert usage(slow)["total_calls"] == before + 1


def test_a_call_its_platform_could_not_record_fails_in_words_and_is_not_counted(slow):
    before = usage(slow)["total_calls"]
    url = submit(slow, {"sleep": 1.5}).json()["body"]["url"]
    wait_until(
        lambda: result(slow, url, done=False).json()["body"]["status"] == "running", "running"
    )
    # The call's row waits in the metering process (another connection holds the write lock)
    # when that process is killed.
    blocker = sqlite3.connect(slow.home / "platform" / "platform.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    time.sleep(2.5)
    (meter,) = [
        p
        for p in psutil.Process(slow.proc.pid).children()
        if any(a.endswith("metering.py") for a in p.cmdline())
    ]
    meter.kill()
    meter.wait(10)
    blocker.execute("ROLLBACK")
    blocker.close()
    done = result(slow, url)
    assert done.status_code == 503
    body = done.json()["body"]
    assert body["status"] == "failed" and body["error"]["type"] == "not_recorded"
    assert "could not record the call" in body["error"]["message"]
    assert usage(slow)["total_calls"] == before


def test_an_output_past_the_kept_size_is_a_clear_error(slow):
    url = submit(slow, "big").json()["body"]["url"]
    done = result(slow, url)
    assert done.status_code == 507
    assert done.json()["body"]["error"]["type"] == "output_too_large"
    assert "2000" in done.json()["body"]["error"]["message"]


def test_refusals_answer_as_for_a_synchronous_call(slow):
    no_key = httpx.post(slow.endpoint("slow"), headers=ASYNC, content=b"1", timeout=30)
    assert no_key.status_code == 401
    bad_json = httpx.post(
        slow.endpoint("slow"), headers={**ASYNC, "x-api-key": slow.key()}, content=b"{", timeout=30
    )
    assert bad_json.status_code == 400 and bad_json.json()["body"]["error"]["type"] == "bad_json"


def test_another_users_key_cannot_read_a_result(slow):
    url = submit(slow, {"secret": 42}).json()["body"]["url"]
    result(slow, url)
    bob_token = slow.add_user("bob")
    bob_key = slow.key(bob_token)
    other = httpx.get(url, headers={"x-api-key": bob_key}, timeout=30)
    assert other.status_code == 403
    assert "42" not in other.text and "secret" not in other.text
    unknown = httpx.get(
        url.rsplit("/", 1)[0] + "/0123456789abcdef", headers={"x-api-key": slow.key()}, timeout=30
    )
    assert unknown.status_code == 404
    assert httpx.get(url, timeout=30).status_code == 401


def test_the_cli_submits_waits_and_shows_a_result(slow):
    submitted = slow.hub("invoke", "slow", '{"sleep": 1.2}', "--async", "--json", check=True)
    events = [json.loads(line) for line in submitted.stdout.splitlines() if line.strip()]
    final = events[-1]
    assert final["event"] == "result" and final["status"] == "queued"
    shown = slow.hub("invoke", "slow", "--result", final["invocation_id"], "--wait", check=True)
    assert json.loads(shown.stdout)["echo"] == {"sleep": 1.2}
    waited = slow.hub("invoke", "slow", '"hello"', "--async", "--wait", "--json", check=True)
    last = json.loads(waited.stdout.splitlines()[-1])
    assert last["status"] == "succeeded" and last["output"]["echo"] == "hello"
    failed = slow.hub("invoke", "slow", '"fail"', "--async", "--wait")
    assert failed.returncode == 1 and "asked to fail" in failed.stderr + failed.stdout


def test_a_restart_runs_queued_calls_and_reports_the_interrupted_one(slow):
    key = slow.key()
    # One call runs (2 workers at most: two long ones occupy them), the next ones queue.
    running = [submit(slow, {"sleep": 20, "n": i}, key).json()["body"]["url"] for i in range(2)]
    wait_until(
        lambda: all(result(slow, u, key, done=False).json()["body"]["status"] == "running"
                    for u in running),
        "both long calls to run",
    )  # fmt: skip
    queued = submit(slow, {"n": "queued"}, key).json()["body"]["url"]
    assert result(slow, queued, key, done=False).json()["body"]["status"] == "queued"
    calls_before = usage(slow)["total_calls"]
    slow.kill9()
    slow.start()
    for url in running:
        done = result(slow, url, key)
        assert done.status_code == 502
        body = done.json()["body"]
        assert body["status"] == "failed" and body["error"]["type"] == "Interrupted"
        assert "not rerun" in body["error"]["message"]
    done = result(slow, queued, key)
    assert done.status_code == 200
    assert done.json()["body"]["output"]["echo"] == {"n": "queued"}
    # The queued one counted once; the interrupted ones are history rows, not counted.
    assert usage(slow)["total_calls"] == calls_before + 1
    rows = slow.control("GET", "/api/v1/apis/slow/invocations?limit=100").json()["invocations"]
    ids = [u.rsplit("/", 1)[1] for u in running + [queued]]
    assert sorted(r["id"] for r in rows if r["id"] in ids) == sorted(ids)
    assert not any(r["counted"] for r in rows if r["id"] in ids[:2])


class Receiver:
    """A real HTTP server on loopback that records what it is sent (the first answers 500)."""

    def __init__(self, fail_first: int = 1) -> None:
        import http.server
        import threading

        received = self.received = []
        state = {"fail": fail_first}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append((dict(self.headers), body))
                status = 500 if state["fail"] > 0 else 204
                state["fail"] -= 1
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_port}/hooks/done?x=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_result_is_posted_to_the_callback_url_signed_and_retried(slow):
    import hashlib
    import hmac

    receiver = Receiver(fail_first=1)
    try:
        key = slow.key()
        resp = submit(slow, {"n": "hook"}, key, headers={"Hub-Callback-Url": receiver.url})
        assert resp.status_code == 202, resp.text
        call_id = resp.json()["body"]["invocation_id"]
        wait_until(lambda: len(receiver.received) >= 2, "the callback's retry")
        for headers, body in receiver.received:
            headers = {k.lower(): v for k, v in headers.items()}
            assert headers["hub-invocation-id"] == call_id
            assert headers["host"] == f"localhost:{receiver.server.server_port}"
            stamp, v1 = (p.split("=", 1)[1] for p in headers["hub-signature"].split(","))
            expected = hmac.new(key.encode(), stamp.encode() + b"." + body, hashlib.sha256)
            assert hmac.compare_digest(v1, expected.hexdigest())
            envelope = json.loads(body)
            assert envelope["statusCode"] == 200
            assert envelope["body"]["output"]["echo"] == {"n": "hook"}
        assert len(receiver.received) == 2  # delivered on the second try: no more
    finally:
        receiver.close()


@pytest.mark.parametrize(
    "url, why",
    [
        ("ftp://example.org/x", "not an http or https URL"),
        ("http://10.1.2.3/hook", "resolves to 10.1.2.3"),
        ("http://169.254.169.254/latest/meta-data", "resolves to 169.254.169.254"),
        ("http://[::1]:9/x", "resolves to ::1"),
        ("http://user:pw@example.org/", "carries credentials"),
        ("http://no-such-host.invalid/", "does not resolve"),
    ],
)
def test_a_callback_url_the_platform_must_not_reach_is_refused_at_submission(slow, url, why):
    before = usage(slow)["total_calls"]
    resp = submit(slow, 1, headers={"Hub-Callback-Url": url})
    assert resp.status_code == 400, resp.text
    error = resp.json()["body"]["error"]
    assert error["type"] == "bad_callback_url" and why in error["message"]
    assert usage(slow)["total_calls"] == before
    # The quota reservation was given back: the next call is accepted.
    assert submit(slow, 1).status_code == 202


def test_the_python_clients_submit_and_fetch(slow):
    import asyncio

    from jupyter_hub_api.client.api import (
        AsyncPlatformClient,
        get_invocation,
        submit_async,
        wait_invocation,
    )

    key = slow.key()
    status, envelope = submit_async(slow.endpoint("slow"), key, b'"sync client"')
    assert status == 202
    status, done = wait_invocation(envelope["body"]["url"], key, timeout=60)
    assert status == 200 and done["body"]["output"]["echo"] == "sync client"
    assert get_invocation(envelope["body"]["url"], key) == (status, done)

    async def from_the_async_client():
        client = AsyncPlatformClient(slow.url, slow.token)
        try:
            status, envelope = await client.submit_async(slow.endpoint("slow"), key, b"7")
            assert status == 202
            url = envelope["body"]["url"]
            while True:
                status, got = await client.get_invocation(url, key)
                if got["body"]["status"] not in ("queued", "running"):
                    return status, got
                await asyncio.sleep(0.2)
        finally:
            await client.aclose()

    status, got = asyncio.run(from_the_async_client())
    assert status == 200 and got["body"]["output"]["echo"] == 7


def test_a_synchronous_call_after_an_asynchronous_one_on_the_same_worker_keeps_its_limit(slow):
    project = slow.make_project(
        "single",
        SLOW_MAIN,
        runtime={"timeout_seconds": 1, "async_timeout_seconds": 30, "max_workers": 1},
    )
    endpoint = slow.deploy(project)["endpoint"]
    key = slow.key()
    h = {"x-api-key": key, "Content-Type": "application/json"}
    resp = httpx.post(endpoint, headers={**h, **ASYNC}, content=b'{"sleep": 1.5}', timeout=30)
    assert resp.status_code == 202
    done = result(slow, resp.json()["body"]["url"], key)
    assert done.json()["body"]["status"] == "succeeded"  # past timeout_seconds: its own limit
    sync = httpx.post(endpoint, headers=h, content=b'{"sleep": 3}', timeout=30)
    assert sync.status_code == 504  # the one worker's timer is the synchronous one again
