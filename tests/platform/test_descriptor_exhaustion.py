"""Out of file descriptors: the platform says so (not "rebuild the API"), and recovers by itself.

The platform is started with a low RLIMIT_NOFILE (soft and hard, so it cannot raise it), no
connection cap and long deadlines, then flooded with idle connections until it has no
descriptor left. A cold API asked through a connection opened before the flood cannot start a
worker; once the flood is closed, /healthz and the API answer again with nothing restarted.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import socket

import requests
from platform_helpers import GUARD, PlatformProcess, healthy, wait_until

LOW_NOFILE = 256


def _low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (LOW_NOFILE, LOW_NOFILE))


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_out_of_descriptors_the_platform_says_so_and_recovers_by_itself(tmp_path):
    config = {
        "plans": {"free": {"rate_limit_per_second": 0, "monthly_calls": None}},
        # No cap and long deadlines: the descriptors really run out.
        "http": {
            "max_connections": 100000,
            "keep_alive_seconds": 300,
            "header_timeout_seconds": 300,
        },
    }
    proc = PlatformProcess(tmp_path, config).start(preexec_fn=_low_nofile)
    flood: list[socket.socket] = []
    try:
        api = proc.deploy(proc.make_project("cold", runtime={"idle_seconds": 0.3}))
        key = proc.key()
        wait_until(
            lambda: proc.control("GET", "/api/v1/apis/cold").json()["status"] == "cold", "cold"
        )
        # A connection opened before the flood, to ask through while nothing else gets in.
        conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=60)
        conn.request("GET", "/healthz")
        assert conn.getresponse().read()

        for _ in range(LOW_NOFILE + 50):
            flood.append(socket.create_connection(("127.0.0.1", proc.port), timeout=GUARD))
        wait_until(lambda: open_descriptors(proc.proc.pid) >= LOW_NOFILE - 1, "out of descriptors")
        conn.request(
            "POST",
            "/alice/cold",
            body="1",
            headers={"x-api-key": key, "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        error = json.loads(resp.read())["body"]["error"]
        assert resp.status == 500 and error["type"] == "LoadError"
        assert "open files" in error["message"] and "out of" in error["message"]
        assert "build the API again" not in error["message"]
        conn.close()
    finally:
        for sock in flood:
            sock.close()
    try:
        # Descriptors freed: new connections are accepted again, /healthz and the API answer.
        wait_until(lambda: healthy(proc), "serving /healthz again", guard=60)

        def answered():
            resp = requests.post(api["endpoint"], headers={"x-api-key": key}, data="2", timeout=60)
            return resp.status_code == 200 and resp.json()["body"]["output"] == 2

        wait_until(answered, "answering the API again", guard=60)
        log = (tmp_path / "test-platform.log").read_text()
        assert "Traceback" not in log
    finally:
        proc.stop()
