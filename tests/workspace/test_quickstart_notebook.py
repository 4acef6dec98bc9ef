"""The workspace's quickstart notebook runs top to bottom, as "Run All" runs it, and deploys a
live API: a real kernel, the real ``hub`` CLI and the embedded platform it starts by itself."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_hub_api.workspace import QUICKSTART_NAME, seed

BIN = str(Path(sys.executable).parent)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def embedded_platform_url(monkeypatch):
    """The URL the notebook's ``hub`` commands use; the platform they start there is stopped
    after the test."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HUB_PLATFORM_URL", url)
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ["PATH"])  # `!hub` in the kernel
    yield url
    subprocess.run([f"{BIN}/hub", "platform", "stop"], capture_output=True, timeout=60)


def outputs_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def test_quickstart_notebook_runs_top_to_bottom_and_deploys(tmp_path, embedded_platform_url):
    notebook_path = seed(tmp_path / "workspace")
    assert notebook_path is not None and notebook_path.name == QUICKSTART_NAME
    notebook = nbformat.read(notebook_path, as_version=4)

    NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path / "workspace")}},
    ).execute()  # raises CellExecutionError on the first failing cell, as Run All stops

    code = [c for c in notebook.cells if c.cell_type == "code"]

    def output_of(snippet: str) -> str:
        (cell,) = [c for c in code if snippet in c.source]
        return outputs_text(cell)

    assert "test accuracy" in output_of("train_test_split(")
    assert f"endpoint: {embedded_platform_url}/" in output_of('print("endpoint:"')
    for predictions in (output_of("requests.post("), output_of("hub.deploy(")):
        assert "0" in predictions and "2" in predictions, predictions
    assert "'prediction': 0" in output_of("requests.post(")
    assert output_of("hub.deploy(").strip().endswith("[0, 2]")
    # The API is live outside the notebook too: the CLI lists it with one counted call.
    status = subprocess.run(
        [f"{BIN}/hub", "status", "iris-quickstart", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    api = json.loads(status.stdout.splitlines()[-1])["apis"][0]
    assert api["status"] == "ready" and api["calls_this_month"] == 1


def test_seeding_keeps_the_users_own_notebook(tmp_path):
    folder = tmp_path / "ws"
    assert seed(folder) is not None
    mine = folder / QUICKSTART_NAME
    mine.write_text('{"changed": "by the user"}')
    assert seed(folder) is None
    assert mine.read_text() == '{"changed": "by the user"}'
