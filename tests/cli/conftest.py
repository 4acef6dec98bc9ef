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
