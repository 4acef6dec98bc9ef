"""The plan's limits of a worker, met the way a user meets them: a real platform whose plan sets
``worker_processes``, ``worker_open_files`` and ``worker_cpu_seconds``, an API deployed with
the real CLI by a second user (``POST /api/v1/users``), called through the gateway.

A fork bomb is capped (EAGAIN past the plan's processes: counted per tenant uid, so only on a
root platform), a handler opening too many files gets "Too many open files", a CPU spinner is
stopped past its CPU time with a 502 naming the limit, and the next call is served.
"""

from __future__ import annotations

import os

import pytest
import requests
from platform_helpers import PlatformProcess

from jupyter_hub_api.platform.engines.sandbox import bwrap_usable

pytestmark = pytest.mark.skipif(
    bwrap_usable() is None,
    reason="bubblewrap is not installed here (scripts/setup.sh: apt-get install bubblewrap)",
)

PROCESSES, OPEN_FILES, CPU_SECONDS = 24, 64, 2

MAIN = """
import errno, os, time
from hub import hub_handler


@hub_handler
def inference_handler(inputs, context):
    if inputs == "fork-bomb":
        read, write = os.pipe()
        children, failure = [], None
        for _ in range(500):
            try:
                pid = os.fork()
            except OSError as exc:
                failure = errno.errorcode.get(exc.errno)
                break
            if pid == 0:  # a child waits until the bomb is over, then leaves
                os.close(write)
                os.read(read, 1)
                os._exit(0)
            children.append(pid)
        os.close(write)
        for pid in children:
            os.waitpid(pid, 0)
        return {"forked": len(children), "failure": failure}
    if inputs == "open-files":
        held = []
        for _ in range(10_000):
            held.append(open(os.devnull))
        return len(held)
    if inputs == "spin":
        while True:
            pass
    return "ok"
"""


@pytest.fixture
def limited_platform(tmp_path_factory):
    home = tmp_path_factory.mktemp("platform-home")
    plan = {
        "rate_limit_per_second": 0,
        "monthly_calls": None,
        "worker_processes": PROCESSES,
        "worker_open_files": OPEN_FILES,
        "worker_cpu_seconds": CPU_SECONDS,
    }
    proc = PlatformProcess(home, {"plans": {"free": plan}}).start()
    yield proc
    proc.stop()


def test_the_plan_caps_processes_open_files_and_cpu_time(limited_platform):
    platform = limited_platform
    bob = platform.add_user("bob")
    project = platform.make_project("limited", main_py=MAIN, runtime={"timeout_seconds": 60})
    endpoint = platform.deploy(project, token=bob)["endpoint"]
    headers = {"x-api-key": platform.key(bob)}

    def call(what: str) -> requests.Response:
        return requests.post(endpoint, json=what, headers=headers, timeout=120)

    assert call("hello").json()["body"]["output"] == "ok"

    if os.getuid() == 0:  # a uid per tenant: the process limit counts bob's processes only
        bomb = call("fork-bomb")
        assert bomb.status_code == 200, bomb.text
        outcome = bomb.json()["body"]["output"]
        assert outcome["failure"] == "EAGAIN" and outcome["forked"] < PROCESSES, outcome

    files = call("open-files")
    assert files.status_code == 500, files.text
    assert "Too many open files" in files.json()["body"]["error"]["message"]

    spun = call("spin")
    assert spun.status_code == 502, spun.text
    error = spun.json()["body"]["error"]
    assert error["type"] == "CpuLimit", error
    assert f"more than {CPU_SECONDS} s of CPU time" in error["message"]
    assert "worker_cpu_seconds" in error["message"]

    # The worker was replaced: the next call is served.
    assert call("hello").json()["body"]["output"] == "ok"
