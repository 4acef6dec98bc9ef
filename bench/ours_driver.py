"""Ours in the serving comparison: the real platform, driven only through the `hub` CLI.

A private HUB_HOME and a free loopback port; the platform's plan is lifted to no quota and no
rate limit (the quota and rate-limit checks and the metering still run on every call, they just
never refuse). For each handler and configuration: `hub init`, the handler written into
`src/main.py`, `hub build --deploy`, then the platform is restarted so that "start to ready" and
the first (cold) request are measured as for the peers, and the endpoint is loaded through the
gateway with the `x-api-key` header.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from serving import PEERS_DIR, BenchError, Server, free_port, wait_ready

HUB = str(Path(sys.executable).with_name("hub"))

# How ours is configured (hub_config.json "runtime"); "tuned" keeps a worker warm and sizes the
# pool to the work: 2 workers (one per core) for CPU work; for the handler that sleeps, one
# worker per call in flight at concurrency 64 (a worker runs one call at a time).
RUNTIME = {
    "default": lambda handler: {},
    "tuned": lambda handler: {"min_workers": 1, "max_workers": 64 if handler == "sleep" else 2},
}
UNLIMITED_PLAN = {
    "default_plan": "bench",
    "plans": {
        "bench": {
            "max_apis": None,
            "monthly_calls": None,
            "rate_limit_per_second": 0,
            "rate_limit_burst": 1,
        }
    },
}

# The docstring names the configuration so a reader of the deployed code can tell them apart.
MAIN_PY = '''"""Benchmark handler ({config}): bench/peers/handlers.py behind @hub_handler."""

import os

import bench_handlers
from hub import hub_handler

handler = bench_handlers.load({handler!r}, os.getenv("MODEL_DIR"))


@hub_handler
def inference_handler(inputs, context):
    return handler(inputs["inputs"])
'''


def _events(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


class OursPlatform:
    """One private platform for the whole comparison; each ``start`` deploys one API on it."""

    def __init__(self, work: Path, model_dir: Path) -> None:
        self.work = Path(work)
        self.model_dir = Path(model_dir)
        self.home = self.work / "home"
        self.port = free_port()
        self.env = {
            **os.environ,
            "HUB_HOME": str(self.home),
            "HUB_PLATFORM_URL": f"http://127.0.0.1:{self.port}",
            "NO_COLOR": "1",
        }
        (self.home / "platform").mkdir(parents=True, exist_ok=True)
        (self.home / "platform" / "config.json").write_text(json.dumps(UNLIMITED_PLAN))
        self.pid: int | None = None
        self.key: str | None = None

    # -- the CLI ---------------------------------------------------------------------------

    def hub(self, *args: str, cwd: Path | None = None, timeout: float = 600) -> list[dict]:
        """Run ``hub ARGS --json``; return its events, or raise with its error message."""
        done = subprocess.run(
            [HUB, *args, "--json"], cwd=cwd or self.work, env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        events = _events(done.stdout)
        if done.returncode != 0:
            errors = [e.get("message") for e in events if e.get("event") == "error"]
            raise BenchError(f"hub {' '.join(args)} failed: {errors or done.stderr[-400:]}")
        return events

    @staticmethod
    def result(events: list[dict]) -> dict:
        """The last ``result`` event."""
        results = [e for e in events if e.get("event") == "result"]
        return results[-1] if results else {}

    def platform_start(self) -> float:
        """Start the platform; return the seconds from the command to /readyz answering 200."""
        started = time.perf_counter()
        self.pid = self.result(self.hub("platform", "start")).get("pid")
        wait_ready(self.port, "/readyz", None, None, {})
        return round(time.perf_counter() - started, 3)

    def platform_stop(self) -> None:
        """Stop the platform (and its workers)."""
        if self.pid is not None:
            self.hub("platform", "stop")
            self.pid = None

    # -- one API ---------------------------------------------------------------------------

    def project(self, config: str, handler: str) -> tuple[str, Path]:
        """Create (once) the project of ``handler`` in ``config``; return its name and folder."""
        name = f"bench-{handler}-{config}"
        folder = self.work / name
        if not folder.exists():
            self.hub("init", name, "--template", "blank", "--dir", str(self.work))
            src = folder / "src"
            shutil.copy(PEERS_DIR / "handlers.py", src / "bench_handlers.py")
            (src / "main.py").write_text(MAIN_PY.format(handler=handler, config=config))
            requirements = ""
            if handler == "sklearn":
                import joblib
                import numpy
                import sklearn

                requirements = (
                    f"scikit-learn=={sklearn.__version__}\njoblib=={joblib.__version__}\n"
                    f"numpy=={numpy.__version__}\n"
                )
                shutil.copy(self.model_dir / "model.joblib", folder / "model" / "model.joblib")
            (src / "requirements.txt").write_text(requirements)
            config_path = folder / "hub_config.json"
            hub_config = json.loads(config_path.read_text())
            hub_config.setdefault("runtime", {}).update(RUNTIME[config](handler))
            config_path.write_text(json.dumps(hub_config, indent=2))
        return name, folder

    def start(self, config: str, handler: str) -> Server:
        """Deploy the API, restart the platform (timed) and return it as a :class:`Server`."""
        name, folder = self.project(config, handler)
        if self.pid is None:
            self.platform_start()
        started = time.perf_counter()
        built = self.result(self.hub("build", "--deploy", str(folder)))
        build_deploy_s = round(time.perf_counter() - started, 3)
        deployed = built.get("deploy") or {}
        if deployed.get("api") != name:
            raise BenchError(f"hub build --deploy deployed {deployed.get('api')!r}, not {name!r}.")
        endpoint = deployed.get("endpoint", "")
        path = "/" + endpoint.split("/", 3)[3] if endpoint.count("/") >= 3 else f"/{name}"
        if self.key is None:
            self.key = self.result(self.hub("keys", "reveal", "default")).get("secret")
            if not self.key:
                raise BenchError("hub keys reveal default --json gave no secret.")
        # Restart: "start to ready" and the cold request then mean the same as for the peers.
        self.platform_stop()
        start_to_ready = self.platform_start()
        runtime = {"min_workers": 0, "max_workers": 2, **RUNTIME[config](handler)}
        description = (
            "hub_config.json runtime at its defaults (min_workers=0: scale-to-zero, max_workers=2)"
            if config == "default"
            else f"hub_config.json runtime min_workers={runtime['min_workers']}, "
            f"max_workers={runtime['max_workers']}"
        )
        server = Server(
            "ours", config, handler, self.port, path, runtime, description,
            headers={"x-api-key": self.key}, api_key=self.key,
        )  # fmt: skip
        server.start_to_ready_s = start_to_ready
        server.extra = {
            "build_deploy_s": build_deploy_s,
            "env_reused": built.get("env_reused"),
            "gateway": "key check, quota and rate-limit checks (plan without limits), metering on",
        }
        server.roots_fn = lambda: [self.pid] if self.pid else []
        server.stop_fn = lambda: self._retire(name)
        return server

    def _retire(self, name: str) -> None:
        """Delete the API so the next one is measured alone, then stop the platform."""
        try:
            self.hub("delete", "--api", name, "--yes")
        finally:
            self.platform_stop()

    def close(self) -> None:
        """Stop the platform if it still runs."""
        try:
            self.platform_stop()
        except BenchError:
            pass
