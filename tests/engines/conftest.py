"""Fixtures for the engine tests: real worker processes, no mocks.

Workers run with this test run's interpreter and a runtime folder holding only a copy of the
``hub`` package on ``PYTHONPATH``, as the build's environments do.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from jupyter_hub_api.platform.engines import VersionSpec
from jupyter_hub_api.platform.engines.local import LocalEngine

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory) -> Path:
    """A folder holding only a copy of the ``hub`` runtime package."""
    folder = tmp_path_factory.mktemp("runtime")
    shutil.copytree(REPO / "hub", folder / "hub", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


class Logs:
    """Collects what ``on_log`` receives."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str | None, str, str]] = []

    def __call__(self, version_id, invocation_id, stream, line) -> None:
        self.lines.append((version_id, invocation_id, stream, line))

    def of(self, invocation_id, stream=None) -> list[str]:
        return [
            line
            for _, inv, st, line in self.lines
            if inv == invocation_id and (stream is None or st == stream)
        ]


@pytest.fixture
def logs() -> Logs:
    return Logs()


@pytest.fixture
def engine(logs, jp_asyncio_loop, runtime_dir):
    """A started local engine, stopped (every worker gone) after the test.

    pytest-jupyter (enabled for all tests) runs ``async def`` tests on ``jp_asyncio_loop``, so
    the engine is started and stopped on that loop too. Workers run sandboxed when bubblewrap
    works here; the test's runtime folder (under /tmp, which a sandbox replaces) is shown to
    them read-only.
    """
    engine = LocalEngine(on_log=logs, read_only_paths=[runtime_dir])
    jp_asyncio_loop.run_until_complete(engine.start())
    yield engine
    jp_asyncio_loop.run_until_complete(engine.stop())
    assert not engine.processes, "stop() left worker processes behind"
    codes = [
        getattr(task.get_coro(), "cr_code", None) for task in asyncio.all_tasks(jp_asyncio_loop)
    ]
    tasks = [code.co_name for code in codes if code and "/platform/engines/" in code.co_filename]
    assert not tasks, f"stop() left engine tasks pending: {tasks}"


@pytest.fixture
def make_spec(tmp_path, runtime_dir):
    """``make_spec(main_py, **options)``: a project folder with that main.py, as a VersionSpec."""
    counter = iter(range(1000))

    def make(main_py: str, files: dict[str, str] | None = None, **options) -> VersionSpec:
        n = next(counter)
        root = tmp_path / f"project{n}"
        (root / "src").mkdir(parents=True)
        (root / "model").mkdir()
        (root / "src" / "main.py").write_text(textwrap.dedent(main_py))
        for name, text in (files or {}).items():
            (root / "src" / name).write_text(textwrap.dedent(text))
        options.setdefault("timeout_seconds", 10.0)
        options.setdefault("idle_seconds", 60.0)
        options.setdefault("max_workers", 1)  # the tests of queueing assume one worker
        return VersionSpec(
            version_id=f"api{n}:build",
            api=f"alice/api{n}",
            src_dir=root / "src",
            model_dir=root / "model",
            python=Path(sys.executable),
            env={"PYTHONPATH": str(runtime_dir)},
            **options,
        )

    return make
