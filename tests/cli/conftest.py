"""Run the real `hub` CLI as a subprocess, as the server extension and a terminal do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HUB = str(Path(sys.executable).with_name("hub"))


@dataclass
class HubRun:
    """The outcome of one `hub` run: exit code, raw output and (with --json) its events."""

    code: int
    stdout: str
    stderr: str
    events: list[dict]

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e.get("event") == kind]

    @property
    def result(self) -> dict:
        found = self.of("result")
        assert found, f"no result event; stdout={self.stdout!r} stderr={self.stderr!r}"
        return found[-1]

    @property
    def error(self) -> dict:
        found = self.of("error")
        assert found, f"no error event; stdout={self.stdout!r} stderr={self.stderr!r}"
        return found[-1]


def run_hub(*args: str, cwd: Path | str | None = None, timeout: float = 300) -> HubRun:
    """Run `hub ARGS...` and parse its JSON events when --json is among the arguments."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    proc = subprocess.run(  # noqa: S603 - argv list
        [HUB, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )
    events = []
    if "--json" in args:
        for line in proc.stdout.splitlines():
            events.append(json.loads(line))  # every stdout line must be an event
    return HubRun(proc.returncode, proc.stdout, proc.stderr, events)


@pytest.fixture
def hub():
    """The `run_hub` helper."""
    return run_hub


@pytest.fixture
def iris_model(tmp_path):
    """A small scikit-learn classifier trained on the spot, saved with joblib."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_iris(return_X_y=True)
    path = tmp_path / "iris-tree.joblib"
    joblib.dump(DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, y), path)
    return path


@pytest.fixture(scope="module")
def launch_platform(tmp_path_factory):
    """``launch_platform(max_apis=None)``: a real platform on a free loopback port (the platform
    tests' helper, ``tests/platform/platform_helpers.py``), stopped after the module."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
    from platform_helpers import start_platform

    started = []

    def launch(max_apis: int | None = None):
        plan = {"rate_limit_per_second": 0, "monthly_calls": None, "max_apis": max_apis}
        started.append(start_platform(tmp_path_factory, {"plans": {"free": plan}}))
        return started[-1]

    yield launch
    for proc in started:
        proc.stop()


@pytest.fixture(scope="module")
def platform_process(launch_platform):
    """A platform without limits, shared by a test module."""
    return launch_platform()
