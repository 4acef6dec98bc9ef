"""Isolation as a user meets it: a real platform process, APIs built and deployed with the real
``hub`` CLI, called over HTTP. A handler running as root cannot change its model file; a
leaking handler gets 502 with a sentence naming the limit and the next call is served; a
detached child of the old version is gone once a redeploy has switched.
"""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest
import requests
from engine_helpers import alive, wait_until

from jupyter_hub_api.platform.engines.sandbox import bwrap_usable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
from platform_helpers import start_platform  # noqa: E402

pytestmark = pytest.mark.skipif(
    bwrap_usable() is None,
    reason="bubblewrap is not installed here (scripts/setup.sh: apt-get install bubblewrap)",
)

MAIN = """
import errno, os, subprocess, time
from hub import hub_handler

hoard = []

@hub_handler
def inference_handler(inputs, context):
    if inputs == "tamper":
        try:
            with open(os.path.join(os.environ["MODEL_DIR"], "weights.txt"), "w") as f:
                f.write("tampered")
            return "written"
        except OSError as exc:
            return errno.errorcode[exc.errno]
    if inputs == "leak":
        while True:
            hoard.append(b"x" * (10 * 1024 * 1024))
            time.sleep(0.01)
    if inputs == "child":
        subprocess.Popen(["sleep", "1000"], start_new_session=True)
        return "started"
    return open(os.path.join(os.environ["MODEL_DIR"], "weights.txt")).read()
"""


@pytest.fixture
def platform(tmp_path_factory):
    proc = start_platform(tmp_path_factory)
    yield proc
    proc.stop()


def _sleeps_under(pid: int) -> list[int]:
    try:
        procs = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p.pid for p in procs if p.cmdline() == ["sleep", "1000"]]


def test_model_files_memory_and_children_are_confined(platform):
    project = platform.make_project(
        "confined",
        main_py=MAIN,
        runtime={"memory_mb": 200, "max_workers": 1},
        model_files={"weights.txt": b"original weights"},
    )
    endpoint = platform.deploy(project)["endpoint"]
    headers = {"x-api-key": platform.key(), "Content-Type": "application/json"}

    def call(body: str) -> requests.Response:
        return requests.post(endpoint, headers=headers, data=body, timeout=120)

    # A handler running as root cannot write its model file: the store keeps the original.
    assert call('"tamper"').json()["body"]["output"] in ("EROFS", "EACCES")
    assert call('"read"').json()["body"]["output"] == "original weights"
    assert platform.hub("store", "verify").returncode == 0

    # Past its memory limit: 502 and one sentence naming the limit; the next call is served.
    leaked = call('"leak"')
    assert leaked.status_code == 502
    error = leaked.json()["body"]["error"]
    assert error["type"] == "MemoryLimit"
    assert "more than 200 MB" in error["message"] and "runtime.memory_mb" in error["message"]
    assert call('"read"').status_code == 200

    # A detached child of the old version ends once a redeploy has switched to the new one.
    assert call('"child"').json()["body"]["output"] == "started"
    (child,) = wait_until(lambda: _sleeps_under(platform.proc.pid))
    (project / "src" / "main.py").write_text(MAIN + "\n# version 2\n")
    platform.deploy(project)
    wait_until(lambda: not alive(child), timeout=30)
    assert call('"read"').status_code == 200
    assert _sleeps_under(platform.proc.pid) == []
