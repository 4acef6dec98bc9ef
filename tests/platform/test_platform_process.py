"""The platform as a process: crash durability, start/stop/status, auto-start, a taken port."""

from __future__ import annotations

import http.server
import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import psutil
import pytest
import requests
from platform_helpers import PlatformProcess, free_port


def test_kill_9_mid_load_loses_no_answered_call(launch_platform, platform_database):
    # On both backends (the embedded SQLite file, and PostgreSQL: database.url).
    config = {"plans": {"free": {"rate_limit_per_second": 0, "monthly_calls": None}}}
    if platform_database:
        config["database"] = platform_database
    proc = launch_platform(config)
    endpoint = proc.deploy(proc.make_project("durable", runtime={"max_workers": 2}))["endpoint"]
    load = _Load(endpoint, proc.key(), clients=16)
    answered = load.answered
    # Kill it mid-load: once calls are being answered (the guard only catches a platform that
    # answers nothing at all; how fast it answers is not what this test is about).
    deadline = time.monotonic() + 120
    while len(answered) < 20:
        assert time.monotonic() < deadline, "no call answered in 120 s"
        time.sleep(0.01)
    meter = None if platform_database else _metering_process(proc)
    proc.kill9()
    load.stop()
    assert len(answered) < 1000  # all of them fit in one page of the history below
    if meter is not None:  # it ends with the platform (the end of its stdin), nothing left over
        meter.wait(10)

    proc.start()  # same data directory, same port
    usage = proc.control("GET", "/api/v1/usage").json()
    assert usage["total_calls"] >= len(answered)
    history = proc.control(
        "GET", "/api/v1/apis/durable/invocations", params={"limit": 1000}
    ).json()["invocations"]
    recorded = {item["id"] for item in history}
    assert not set(answered) - recorded  # every answered invocation is in the history
    assert usage["total_calls"] == len(recorded)
    # And the API serves again after the restart.
    resp = requests.post(endpoint, headers={"x-api-key": load.key}, data="2", timeout=60)
    assert resp.json()["body"]["output"] == 2


class _Load:
    """``clients`` threads POSTing ``1`` to ``endpoint`` until :meth:`stop` (or until the
    platform is gone): the invocation ids answered 200, the status and error of the others."""

    def __init__(self, endpoint: str, key: str, clients: int) -> None:
        self.endpoint, self.key = endpoint, key
        self.answered: list[str] = []
        self.refused: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(clients)]
        for t in self._threads:
            t.start()

    def _client(self) -> None:
        session = requests.Session()
        h = {"x-api-key": self.key, "Content-Type": "application/json"}
        while not self._stop.is_set():
            try:
                resp = session.post(self.endpoint, headers=h, data="1", timeout=30)
            except requests.RequestException:
                return  # the platform is gone
            with self._lock:
                if resp.status_code == 200:
                    self.answered.append(resp.json()["body"]["invocation_id"])
                    continue
                try:
                    error = resp.json()["body"]["error"]
                except (ValueError, KeyError, TypeError):
                    error = {"text": resp.text[:300]}
                self.refused.append({"status": resp.status_code, **error})

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


def _metering_process(proc: PlatformProcess) -> psutil.Process:
    """The platform's metering process (SQLite: the child that writes the gateway's rows)."""
    for child in psutil.Process(proc.proc.pid).children():
        if any(part.endswith("metering.py") for part in child.cmdline()):
            return child
    raise AssertionError("the platform has no metering process")


def test_a_killed_metering_process_loses_no_answered_call_and_is_replaced(launch_platform):
    config = {"plans": {"free": {"rate_limit_per_second": 0, "monthly_calls": None}}}
    proc = launch_platform(config)
    endpoint = proc.deploy(proc.make_project("metered", runtime={"max_workers": 2}))["endpoint"]
    load = _Load(endpoint, proc.key(), clients=8)
    answered, refused = load.answered, load.refused
    try:
        deadline = time.monotonic() + 120
        while len(answered) < 50:
            assert time.monotonic() < deadline, "no call answered in 120 s"
            time.sleep(0.01)
        # Killed while calls wait in it: another connection holds the database's write lock.
        blocker = sqlite3.connect(proc.home / "platform" / "platform.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        time.sleep(0.5)
        first = _metering_process(proc)
        first.kill()
        first.wait(10)
        blocker.execute("ROLLBACK")
        blocker.close()
        mark = len(answered)
        while len(answered) < mark + 50:  # answering again, through a new metering process
            assert time.monotonic() < deadline, "no call answered after the kill"
            time.sleep(0.01)
    finally:
        load.stop()
    assert _metering_process(proc).pid != first.pid
    # The calls caught by the kill are refused in words, not answered as if recorded.
    assert refused
    for error in refused:
        assert error["status"] == 503 and error["type"] == "not_recorded", error
        assert "could not record the call" in error["message"] and "call again" in error["message"]
    history = proc.control(
        "GET", "/api/v1/apis/metered/invocations", params={"limit": 1000}
    ).json()["invocations"]
    recorded = {item["id"] for item in history}
    assert len(answered) < 1000 and not set(answered) - recorded
    assert proc.control("GET", "/api/v1/usage").json()["total_calls"] == len(recorded)
    assert "Traceback" not in (proc.home / "test-platform.log").read_text()


def test_platform_start_status_stop_through_the_cli(tmp_path):
    proc = PlatformProcess(tmp_path)
    status = proc.hub("platform", "status", "--json", check=True)
    assert json.loads(status.stdout)["running"] is False
    started = proc.hub("platform", "start", "--json", check=True)
    result = json.loads(started.stdout.splitlines()[-1])
    try:
        assert result["url"] == proc.url and result["pid"]
        assert httpx.get(f"{proc.url}/readyz").json()["status"] == "ready"
        status = json.loads(proc.hub("platform", "status", "--json", check=True).stdout)
        assert status["running"] and status["user"] == "alice"
        # A second start is a no-op.
        again = json.loads(
            proc.hub("platform", "start", "--json", check=True).stdout.splitlines()[-1]
        )
        assert again["pid"] == result["pid"]
    finally:
        stopped = proc.hub("platform", "stop", "--json", check=True)
    assert json.loads(stopped.stdout)["stopped"] is True
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{proc.url}/healthz")
    assert json.loads(proc.hub("platform", "stop", "--json", check=True).stdout)["stopped"] is False


def test_commands_start_the_platform_when_it_is_not_running(tmp_path):
    proc = PlatformProcess(tmp_path)
    try:
        result = proc.hub("keys", "list", "--json", check=True)
        keys = json.loads(result.stdout)["keys"]
        assert [k["name"] for k in keys] == ["default"]  # created on first start
        assert httpx.get(f"{proc.url}/healthz").json()["service"] == "hub-platform"
    finally:
        proc.hub("platform", "stop")


@pytest.fixture
def foreign_server():
    """Another program's HTTP server on a loopback port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>not a hub</html>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_port_taken_by_another_program_is_a_clear_error(tmp_path, foreign_server):
    proc = PlatformProcess(tmp_path)
    proc.env["HUB_PLATFORM_URL"] = f"http://127.0.0.1:{foreign_server}"
    for args in (["platform", "start"], ["status"], ["keys", "list"]):
        result = proc.hub(*args)
        assert result.returncode == 2, result.stderr
        assert f"Port {foreign_server}" in result.stderr
        assert "HUB_PLATFORM_URL" in result.stderr
        assert "Traceback" not in result.stderr


def test_the_server_itself_refuses_a_taken_port_in_one_sentence(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        proc = PlatformProcess(tmp_path)
        out = subprocess.run(
            [sys.executable, "-m", "jupyter_hub_api.platform", "--port", str(port)],
            env=proc.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 2
    assert f"Port {port} on 127.0.0.1 is already in use" in out.stderr
    assert "HUB_PLATFORM_URL" in out.stderr and "Traceback" not in out.stderr


def test_one_platform_per_data_directory(launch_platform):
    proc = launch_platform()
    other = subprocess.run(
        [sys.executable, "-m", "jupyter_hub_api.platform", "--port", str(free_port())],
        env=proc.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode == 2
    assert "already running" in other.stderr


def test_a_platform_of_another_data_directory_on_our_port_is_a_clear_error(
    launch_platform, tmp_path
):
    running = launch_platform()
    other = PlatformProcess(tmp_path)
    other.env["HUB_PLATFORM_URL"] = running.url
    result = other.hub("status")
    assert result.returncode == 2
    assert "belongs to another data directory" in result.stderr
    assert "HUB_PLATFORM_URL" in result.stderr


def test_an_unreachable_database_stops_the_start_in_one_sentence_without_its_password(tmp_path):
    url = f"postgresql://hub:hunter2@/hub?host={tmp_path / 'no-server'}"
    proc = PlatformProcess(tmp_path, config={"database": {"url": url}})
    result = proc.hub("status")
    assert result.returncode == 1
    assert "Cannot connect to the platform database" in result.stderr, result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
    # $HUB_DATABASE_URL wins over the config file, and is checked the same way.
    proc.env["HUB_DATABASE_URL"] = "mysql://hub@db/hub"
    result = proc.hub("status")
    assert "HUB_DATABASE_URL must be a postgresql:// URL" in result.stderr, result.stderr


def test_a_bad_plan_config_stops_the_start_with_the_field_named(tmp_path):
    proc = PlatformProcess(tmp_path, config={"plans": {"free": {"monthly_callz": 10}}})
    result = proc.hub("status")
    assert result.returncode == 1
    assert "monthly_callz" in result.stderr and "did not start" in result.stderr
    assert "Traceback" not in result.stderr
