"""The wizard's model step takes a model saved by the real MLflow: the file listing recognises
the folder (its MLmodel) with the main.py and requirements it will get, and creating the
project from it gives the same files as ``hub init --from-mlflow``."""

from __future__ import annotations

import subprocess

import mlflow.sklearn
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from .conftest import HUB, fetch_json, post_json


@pytest.fixture
def saved(jp_root_dir):
    """An iris classifier saved by mlflow.sklearn into the server root, as a notebook does."""
    X, y = load_iris(return_X_y=True)
    folder = jp_root_dir / "models" / "iris_model"
    folder.parent.mkdir()
    mlflow.sklearn.save_model(LogisticRegression(max_iter=300).fit(X, y), folder)
    (jp_root_dir / "models" / "plain").mkdir()
    return folder


def tree(folder):
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and ".hub" not in p.parts
    )


async def test_an_mlflow_folder_is_recognised_and_created_as_hub_init_from_mlflow_does(
    jp_fetch, jp_root_dir, saved, tmp_path
):
    _, listing = await fetch_json(jp_fetch, "hub-api", "files", params={"path": "models"})
    entries = {e["name"]: e for e in listing["entries"]}
    info = entries["iris_model"]["mlflow"]
    assert "mlflow" not in entries["plain"]
    assert info["loader"] == "sklearn" and "sklearn" in info["flavors"]
    assert info["mlflow_version"] == mlflow.__version__
    assert any(r.startswith("scikit-learn==") for r in info["requirements"])
    assert not any(r.startswith("mlflow") for r in info["requirements"])
    assert 'MLFLOW_MODEL = os.path.join(MODEL_DIR, "iris_model")' in info["main_py"]

    (jp_root_dir / "apis").mkdir()
    status, created = await post_json(
        jp_fetch,
        "hub-api",
        "projects",
        body={
            "name": "iris-mlflow",
            "template": "blank",
            "parent": "apis",
            "model_files": [],
            "from_mlflow": "models/iris_model",
        },
    )
    assert status == 201, created
    project = jp_root_dir / "apis" / "iris-mlflow"
    # The same project as the CLI makes from the same folder.
    subprocess.run(  # noqa: S603 - argv list
        [*HUB, "init", "iris-mlflow", "--from-mlflow", str(saved), "--dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    cli = tmp_path / "iris-mlflow"
    assert tree(project) == tree(cli)
    assert "model/iris_model/MLmodel" in tree(project)
    for rel in ("src/main.py", "src/requirements.txt"):
        assert (project / rel).read_text() == (cli / rel).read_text()
    assert (project / "src/main.py").read_text() == info["main_py"]
    assert (project / "src/requirements.txt").read_text().splitlines() == info["requirements"]


async def test_a_folder_that_is_not_an_mlflow_model_is_one_sentence_and_nothing_is_written(
    jp_fetch, jp_root_dir, saved
):
    status, answer = await post_json(
        jp_fetch,
        "hub-api",
        "projects",
        body={"name": "nope", "parent": "", "from_mlflow": "models/plain"},
    )
    assert status == 400 and answer["reason"] == "bad_mlflow_model"
    assert "is not an MLflow model folder (it has no MLmodel file)" in answer["message"]
    assert not (jp_root_dir / "nope").exists()
    status, answer = await post_json(
        jp_fetch,
        "hub-api",
        "projects",
        body={"name": "nope", "template": "sklearn", "from_mlflow": "models/iris_model"},
    )
    assert status == 400 and "takes no template" in answer["message"]
    status, answer = await post_json(
        jp_fetch, "hub-api", "projects", body={"name": "nope", "from_mlflow": "../outside"}
    )
    assert status in (400, 403, 404) and not (jp_root_dir / "nope").exists()
