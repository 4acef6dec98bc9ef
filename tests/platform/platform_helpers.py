"""Helpers of the platform tests: a real platform process for one data directory, projects.

Imported by ``conftest.py`` and the test modules (``from platform_helpers import ...``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

HUB = str(Path(sys.executable).with_name("hub"))

# One handler for many behaviours, chosen by the input: echo by default.
BEHAVIOUR_MAIN = """\
import os
import sys
import time

from hub import hub_handler

VERSION = {version!r}
# Tells workers apart: in the sandbox every worker's own pid is the same (its PID namespace).
WORKER = (os.getpid(), time.time_ns())
print("loading behaviour api", VERSION, flush=True)


@hub_handler
def inference_handler(inputs, context):
    if isinstance(inputs, dict):
        op = inputs.get("op")
        if op == "raise":
            raise ValueError("bad input: " + str(inputs.get("msg")))
        if op == "crash":
            os._exit(3)
        if op == "sleep":
            time.sleep(inputs["seconds"])
            return "slept"
        if op == "print":
            for line in inputs["lines"]:
                print(line)
            print("to stderr", file=sys.stderr)
            return len(inputs["lines"])
        if op == "pid":
            return WORKER
        if op == "version":
            return VERSION
    return inputs
"""


GUARD = 30.0  # seconds a test waits for something before it fails (only against hangs)


def wait_until(predicate, what: str, guard: float = GUARD):
    """Poll ``predicate`` (connection errors count as "not yet") until it returns true."""
    deadline = time.monotonic() + guard
    while True:
        try:
            value = predicate()
        except (OSError, httpx.HTTPError):
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"still not {what} after {guard} s"
        time.sleep(0.1)


def healthy(proc: PlatformProcess) -> bool:
    """Whether the platform answers /healthz (on a new connection)."""
    return httpx.get(f"{proc.url}/healthz", timeout=5).status_code == 200


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_record(
    name: str,
    *,
    version: str = "0.1.0",
    model: list[dict] | None = None,
    requirements: str = "",
    code_size: int = 10,
) -> dict:
    """A build record as ``hub build`` posts it, made by hand: for tests of the deploy routes
    that need no real build (one code file, the model files given)."""
    return {
        "build_id": "ab" * 32,
        "name": name,
        "version": version,
        "config": {"name": name, "version": version},
        "environment": {"key": "k", "python": "3.11", "requirements": requirements},
        "code": [{"path": "main.py", "sha256": "cd" * 32, "size": code_size}],
        "model": model or [],
    }


class PlatformProcess:
    """A platform process for one data directory; the CLI's environment to reach it."""

    def __init__(self, home: Path, config: dict | None = None, user: str = "alice") -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.user = user
        self.proc: subprocess.Popen | None = None
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env.update(
            HUB_HOME=str(home),
            HUB_PLATFORM_URL=self.url,
            JUPYTERHUB_USER=user,
            NO_COLOR="1",
            COLUMNS="200",
        )
        if config is not None:
            path = home / "platform-config.json"
            path.write_text(json.dumps(config))
            env["HUB_PLATFORM_CONFIG"] = str(path)
        self.env = env

    # -- process ------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0, preexec_fn=None) -> PlatformProcess:
        """Start the process (``preexec_fn`` runs in the child first, e.g. to set rlimits)."""
        log = open(self.home / "test-platform.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_hub_api.platform"],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"platform exited: {(self.home / 'test-platform.log').read_text()}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("platform did not become ready")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def kill9(self) -> None:
        """Kill the platform without any chance to clean up."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    # -- clients ------------------------------------------------------------------------------
    @property
    def token(self) -> str:
        return (self.home / "platform" / "token").read_text().strip()

    def control(self, method: str, path: str, token: str | None = None, **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kw)

    def key(self, token: str | None = None) -> str:
        """The first enabled key of the user (the default one)."""
        keys = self.control("GET", "/api/v1/keys", token).json()["keys"]
        first = next(k for k in keys if k["enabled"])
        return self.control("POST", f"/api/v1/keys/{first['id']}/reveal", token).json()["secret"]

    def endpoint(self, api: str, user: str | None = None) -> str:
        return f"{self.url}/{user or self.user}/{api}"

    def hub(self, *args, cwd=None, token: str | None = None, input: str | None = None, check=False):
        env = dict(self.env)
        if token:
            env["HUB_PLATFORM_TOKEN"] = token
        result = subprocess.run(
            [HUB, *args], cwd=cwd, env=env, capture_output=True, text=True, input=input, timeout=300
        )
        if check and result.returncode != 0:
            raise AssertionError(f"hub {' '.join(args)} failed: {result.stdout}\n{result.stderr}")
        return result

    def hub_elsewhere(self, client_home: Path, *args, cwd=None):
        """The CLI with a HUB_HOME of its own (no shared blob store): this platform is remote."""
        env = dict(self.env, HUB_HOME=str(client_home), HUB_PLATFORM_TOKEN=self.token)
        return subprocess.run(
            [HUB, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )

    def add_user(self, name: str) -> str:
        resp = self.control("POST", "/api/v1/users", json={"name": name})
        assert resp.status_code == 201, resp.text
        return resp.json()["token"]

    # -- projects -----------------------------------------------------------------------------
    def make_project(
        self,
        name: str,
        main_py: str | None = None,
        version: str | None = None,
        runtime: dict | None = None,
        requirements: str = "",
        model_files: dict[str, bytes] | None = None,
    ) -> Path:
        """A project written by hand (what `hub init` writes, minus the Dockerfile)."""
        root = self.home / "projects" / name
        (root / "src").mkdir(parents=True, exist_ok=True)
        (root / "model").mkdir(exist_ok=True)
        config = {"name": name, "version": "0.1.0", "runtime": runtime or {}}
        (root / "hub_config.json").write_text(json.dumps(config))
        # The version label defaults to the name: builds are identified by their code, so two
        # projects with identical code would otherwise share one build record.
        main = main_py if main_py is not None else BEHAVIOUR_MAIN.format(version=version or name)
        (root / "src" / "main.py").write_text(textwrap.dedent(main))
        (root / "src" / "requirements.txt").write_text(requirements)
        for rel, data in (model_files or {}).items():
            (root / "model" / rel).write_bytes(data)
        return root

    def deploy(self, project: Path, token: str | None = None) -> dict:
        """`hub build --deploy --json` in ``project``; the deploy result."""
        result = self.hub("build", "--deploy", "--json", cwd=project, token=token, check=True)
        events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        final = [e for e in events if e["event"] == "result"][-1]
        return final["deploy"]


def start_platform(
    tmp_path_factory, config: dict | None = None, user: str = "alice"
) -> PlatformProcess:
    home = tmp_path_factory.mktemp("platform-home")
    return PlatformProcess(home, config, user).start()
