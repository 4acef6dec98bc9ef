"""``jupyter_hub_api.deploy()`` in a real kernel, as a user runs it from notebook cells.

nbclient executes a small notebook: it trains a scikit-learn model, deploys it with
``hub.deploy(model, predict, name=...)`` (the real scaffold, the real ``hub build --deploy``
subprocess and the embedded platform it starts on a free loopback port), calls the API with
``.predict``, changes ``predict`` and deploys again (a new version goes live), deploys once
more unchanged (nothing to do), deploys a model whose class is in a .py file beside the
notebook (copied into src/), and tries two deploys that must fail with one sentence: a model
whose class is defined in the notebook, and a model the worker cannot load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from platform_helpers import free_port  # noqa: E402

pytestmark = pytest.mark.timeout(1200)

API = "iris-cell"

CELLS = [
    """\
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import jupyter_hub_api as hub

X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=500).fit(X, y)
SPECIES = ["setosa", "versicolor", "virginica"]


def species(index):
    return SPECIES[int(index)]


def predict(model, inputs):
    rows = np.asarray(inputs, dtype=float).reshape(-1, 4)
    return [species(p) for p in model.predict(rows)]
""",
    f'api = hub.deploy(model, predict, name="{API}")\napi',
    "print(api.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]))",
    """\
def predict(model, inputs):
    rows = np.asarray(inputs, dtype=float).reshape(-1, 4)
    return {"species": [species(p) for p in model.predict(rows)],
            "p": model.predict_proba(rows).round(3)}


api2 = hub.deploy(model, predict, name="iris-cell")
print("version", api.version, "->", api2.version)
print(api2.predict([[5.1, 3.5, 1.4, 0.2]]))
""",
    f'api3 = hub.deploy(model, predict, name="{API}")\n'
    'print("unchanged", api3.unchanged, api3.version)',
    """\
class Doubler:
    def predict(self, rows):
        return [2 * r[0] for r in rows]


hub.deploy(Doubler(), predict, name="iris-cell")
""",
    """\
import pathlib

pathlib.Path("local_models.py").write_text(
    "class Constant:\\n"
    "    def predict(self, rows):\\n"
    "        return [7 for _ in rows]\\n"
    "\\n"
    "class Fragile(Constant):\\n"
    "    def __init__(self):\\n"
    "        self.weights = [1.0]\\n"
    "\\n"
    "    def __setstate__(self, state):\\n"
    "        raise RuntimeError('this model cannot be loaded here')\\n"
)
import local_models


def predict_rows(model, inputs):
    return model.predict(inputs)


constant = hub.deploy(local_models.Constant(), predict_rows, name="constant-cell")
print(constant.predict([[1, 2, 3, 4]]))
""",
    'hub.deploy(local_models.Fragile(), predict_rows, name="constant-cell")',
]
FAILING = {5, 7}  # cells expected to raise DeployError


@pytest.fixture
def platform_url(monkeypatch):
    """The URL the kernel's deploys use; the platform they start there is stopped after."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("HUB_PLATFORM_URL", url)
    yield url
    subprocess.run(
        [sys.executable, "-m", "jupyter_hub_api.cli.main", "platform", "stop"],
        capture_output=True,
        timeout=60,
    )


def text_of(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(str(output.get("data", {}).get("text/plain", "")))
        parts.append(str(output.get("data", {}).get("text/html", "")))
        parts.extend(output.get("traceback", []))
    return "".join(parts)


def test_a_notebook_deploys_redeploys_and_calls_its_model(tmp_path, platform_url):
    notebook = nbformat.v4.new_notebook()
    for i, source in enumerate(CELLS):
        cell = nbformat.v4.new_code_cell(source)
        if i in FAILING:
            cell.metadata["tags"] = ["raises-exception"]  # nbclient goes on, as a user would
        notebook.cells.append(cell)

    NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    cells = notebook.cells

    # The first deploy streamed the build's steps and log lines into the cell, as text.
    deploy_log = text_of(cells[1])
    for line in ("→ validate…", "✓ environment", "✓ switch", f"Live: version 1 at {platform_url}/"):
        assert line in deploy_log, deploy_log
    assert "scikit-learn==" in deploy_log and '"event"' not in deploy_log
    assert f"{platform_url}/" in deploy_log and "<table>" in deploy_log  # _repr_html_
    assert text_of(cells[2]).strip() == "['setosa', 'virginica']"

    # The project is an ordinary one: main.py from predict, requirements pinned to the kernel.
    project = tmp_path / API
    main_py = (project / "src" / "main.py").read_text()
    assert "import numpy as np" in main_py and "def species(index):" in main_py
    assert "SPECIES = ['setosa', 'versicolor', 'virginica']" in main_py
    import sklearn

    requirements = (project / "src" / "requirements.txt").read_text().split()
    assert f"scikit-learn=={sklearn.__version__}" in requirements
    assert any(r.startswith("joblib==") for r in requirements)

    # Deploying the changed predict made version 2 live; the same again changed nothing.
    redeploy = text_of(cells[3])
    assert "version 1 -> 2" in redeploy
    assert "{'species': ['setosa'], 'p': [[" in redeploy
    assert "unchanged True 2" in text_of(cells[4])
    assert "already live" in text_of(cells[4])

    # Failures are one sentence each, without the package's traceback.
    notebook_class = cells[5].outputs[-1]
    assert notebook_class["ename"] == "DeployError"
    assert notebook_class["traceback"] == [
        "DeployError: The model uses Doubler, defined in this notebook, which a deployed API "
        "cannot import. Move that code into a .py file beside the notebook and import it from "
        "there (deploy() copies it into src/)."
    ]
    # A module beside the notebook that the model needs is copied into src/.
    assert "copied local_models.py into src/" in text_of(cells[6])
    assert "[7]" in text_of(cells[6])
    assert (tmp_path / "constant-cell" / "src" / "local_models.py").is_file()
    # A model the worker cannot load: the CLI's sentence; the live version stays.
    load_failed = cells[7].outputs[-1]
    assert load_failed["ename"] == "DeployError" and len(load_failed["traceback"]) == 1
    assert "did not load" in load_failed["evalue"], load_failed["evalue"]
    assert "this model cannot be loaded here" in load_failed["evalue"], load_failed["evalue"]

    # The API is live outside the notebook too, at version 2.
    status = subprocess.run(
        [sys.executable, "-m", "jupyter_hub_api.cli.main", "status", API, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    api = json.loads(status.stdout.splitlines()[-1])["apis"][0]
    assert api["status"] == "ready", api
    assert Path(project / "model" / "model.joblib").is_file()
