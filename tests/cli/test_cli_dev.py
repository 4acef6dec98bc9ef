"""`hub dev` as a user runs it: a real subprocess on a free port, called on both paths, reloaded
by editing src/main.py, showing the handler's prints, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

HUB = str(Path(sys.executable).with_name("hub"))  # the venv's console script

LAMBDA = "/2015-03-31/functions/function/invocations"

DECORATED = """\
from hub import hub_handler

VERSION = {version}

@hub_handler
def inference_handler(inputs, context):
    print("handling", inputs)
    return {{"version": VERSION, "echo": inputs}}
"""

HOSTED_2021 = """\
import json

def handler(event, context):
    if event == 'PING':
        print("pinged")
        return {'statusCode': 200, 'body': json.dumps("PING RESPONSE")}
    inputs = json.loads(event['inputs'])
    if inputs == "missing":
        return {'statusCode': 404, 'body': json.dumps("nothing called missing")}
    if inputs == "raise":
        raise ValueError("asked to raise")
    return {'statusCode': 200, 'body': json.dumps({"upper": inputs.upper()})}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevProcess:
    """`hub dev` running in a project; its output collected as it comes."""

    def __init__(self, project: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        env.update(NO_COLOR="1", COLUMNS="200")
        self.proc = subprocess.Popen(  # noqa: S603 - argv list
            [HUB, "dev", "--port", str(self.port)],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(lambda: self._answers(), "hub dev to answer", 300)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _answers(self) -> bool:
        assert self.proc.poll() is None, "\n".join(self.lines)
        try:
            return httpx.get(self.url + "/", timeout=30).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, check, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; output:\n{self.output}")

    def post(self, path: str, body) -> httpx.Response:
        return httpx.post(self.url + path, content=json.dumps(body), timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def make_project(tmp_path):
    def make(main: str) -> Path:
        root = tmp_path / "devapi"
        (root / "src").mkdir(parents=True)
        (root / "model").mkdir()
        (root / "hub_config.json").write_text(json.dumps({"name": "devapi", "version": "1.0"}))
        (root / "src" / "main.py").write_text(main)
        (root / "src" / "requirements.txt").write_text("")
        return root

    return make


@pytest.fixture
def dev_process():
    started: list[DevProcess] = []

    def start(project: Path) -> DevProcess:
        started.append(DevProcess(project))
        return started[-1]

    yield start
    for proc in started:
        proc.stop()


def test_hub_dev_serves_both_paths_reloads_on_edit_prints_and_stops_on_ctrl_c(
    make_project, dev_process
):
    project = make_project(DECORATED.format(version=1))
    dev = dev_process(project)

    ready = httpx.get(dev.url + "/", timeout=60).json()  # no x-api-key
    assert ready["statusCode"] == 200 and ready["body"]["status"] == "ready"

    answer = dev.post("/", "hi").json()
    assert answer["statusCode"] == 200
    assert answer["body"]["output"]["version"] == 1 and answer["body"]["output"]["echo"] == "hi"
    dev.wait_for(lambda: "handling hi" in dev.output, "the handler's print line")

    lam = dev.post(LAMBDA, {"inputs": json.dumps({"text": "via lambda"})})
    assert lam.status_code == 200
    lambda_answer = lam.json()
    assert lambda_answer["statusCode"] == 200
    assert json.loads(lambda_answer["body"])["echo"] == {"text": "via lambda"}
    assert dev.post(LAMBDA, "PING").json() == {"statusCode": 200, "body": '"PING RESPONSE"'}
    refused = dev.post(LAMBDA, {"body": "not the hosted event"})
    assert refused.status_code == 400 and "PING" in refused.json()["errorMessage"]

    (project / "src" / "main.py").write_text(DECORATED.format(version=2))
    dev.wait_for(
        lambda: dev.post("/", "again").json()["body"]["output"]["version"] == 2,
        "the edited main.py to answer",
    )
    assert "src/main.py changed" in dev.output

    # A broken edit keeps the last good code serving and says why.
    broken = "import no_such_module_here\n" + DECORATED.format(version=3)
    (project / "src" / "main.py").write_text(broken)
    dev.wait_for(lambda: "No module named 'no_such_module_here'" in dev.output, "the error")
    assert dev.post("/", "still").json()["body"]["output"]["version"] == 2

    workers = psutil.Process(dev.proc.pid).children(recursive=True)
    assert workers  # the worker processes (and what they started)
    dev.proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert dev.proc.wait(60) == 0, dev.output
    assert "Stopped hub dev" in dev.output
    # The only traceback is the user's import error, starting in their main.py.
    assert "KeyboardInterrupt" not in dev.output and "jupyter_hub_api" not in dev.output
    assert "_worker.py" not in dev.output and 'src/main.py", line 1, in <module>' in dev.output
    for worker in workers:
        assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    with pytest.raises(httpx.ConnectError):
        httpx.get(dev.url + "/", timeout=5)


def test_hub_dev_runs_a_2021_handler_and_answers_lambda_as_lambda_did(make_project, dev_process):
    dev = dev_process(make_project(HOSTED_2021))

    ping = httpx.get(dev.url + "/", timeout=60).json()
    assert ping["body"]["output"] == "PING RESPONSE"
    dev.wait_for(lambda: "pinged" in dev.output, "the ping's print line")

    assert dev.post("/", "abc").json()["body"]["output"] == {"upper": "ABC"}
    missing = dev.post("/", "missing")
    assert missing.status_code == 404
    assert missing.json()["body"]["error"]["message"] == "nothing called missing"

    # The Lambda path answers what the handler returned, as the emulator did.
    lam = dev.post(LAMBDA, {"inputs": json.dumps("abc")}).json()
    assert lam == {"statusCode": 200, "body": '{"upper":"ABC"}'}
    assert dev.post(LAMBDA, {"inputs": '"missing"'}).json() == {
        "statusCode": 404,
        "body": '"nothing called missing"',
    }
    raised = dev.post(LAMBDA, {"inputs": '"raise"'})
    assert raised.headers["x-amz-function-error"] == "Unhandled"
    assert raised.json() == {"errorType": "ValueError", "errorMessage": "asked to raise"}
    dev.wait_for(lambda: "ValueError: asked to raise" in dev.output, "the traceback")


def test_hub_dev_on_a_taken_port_says_which_option_to_use(make_project, tmp_path):
    project = make_project(DECORATED.format(version=1))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(  # noqa: S603 - argv list
            [HUB, "dev", "--port", str(port)],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert run.returncode == 2
    assert f"Port {port} on 127.0.0.1 is already in use" in run.stderr
    assert f"hub dev --port {port + 1}" in run.stderr and "Traceback" not in run.stderr
