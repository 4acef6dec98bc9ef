"""Models saved by the real MLflow (no MLflow server) become Hub APIs with ``hub init
--from-mlflow``: deployed on a real platform and called with the hosted guide's client code."""

from __future__ import annotations

import sys
from pathlib import Path

import cloudpickle
import mlflow.pyfunc
import mlflow.sklearn
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from jupyter_hub_api.errors import UsageError
from jupyter_hub_api.project.mlflow import read_mlflow_model
from jupyter_hub_api.project.requirements import normalise_requirements

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "platform"))

from guide_client import run_guide_client  # noqa: E402
from platform_helpers import start_platform  # noqa: E402

pytestmark = pytest.mark.timeout(1200)

FLOWERS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


class Doubler(mlflow.pyfunc.PythonModel):
    """A custom pyfunc model: the flavor only MLflow itself can load."""

    def predict(self, context, model_input, params=None):
        return [2 * x for x in model_input["x"]]


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """An iris classifier saved by mlflow.sklearn (skops, MLflow's default) and a custom pyfunc
    model, as a data scientist saves them."""
    root = tmp_path_factory.mktemp("mlflow-models")
    X, y = load_iris(return_X_y=True)
    mlflow.sklearn.save_model(
        LogisticRegression(max_iter=500).fit(X, y), root / "iris_model", input_example=X[:2]
    )
    # A class of a test module is pickled by reference; a notebook's (__main__) by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    mlflow.pyfunc.save_model(root / "doubler", python_model=Doubler())
    return {"sklearn": root / "iris_model", "pyfunc": root / "doubler"}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    proc = start_platform(tmp_path_factory)
    yield proc
    proc.stop()


def recorded(folder: Path) -> list[str]:
    return normalise_requirements((folder / "requirements.txt").read_text()).splitlines()


def test_an_sklearn_model_is_loaded_with_its_own_format_and_mlflows_requirements(saved):
    model = read_mlflow_model(saved["sklearn"])
    assert model.loader == "sklearn" and "sklearn" in model.flavors
    assert f"mlflow=={mlflow.__version__}" in recorded(saved["sklearn"])
    # What MLflow recorded (pinned), without MLflow itself: no 700 MB for a pickle.
    expected = [r for r in recorded(saved["sklearn"]) if not r.startswith("mlflow")]
    assert model.requirements.splitlines() == expected
    assert any(r.startswith("scikit-learn==") for r in expected)
    assert model.as_dict()["requirements"] == expected


def test_another_flavor_is_loaded_by_mlflow_pyfunc_with_mlflow_skinny(saved):
    model = read_mlflow_model(saved["pyfunc"])
    assert model.loader == "pyfunc" and model.flavors == ["python_function"]
    lines = model.requirements.splitlines()
    assert f"mlflow-skinny=={mlflow.__version__}" in lines and "pandas" in lines
    assert not any(line.startswith("mlflow==") for line in lines)
    assert [r for r in recorded(saved["pyfunc"]) if r.startswith("cloudpickle")][0] in lines


def test_a_folder_without_mlmodel_is_one_sentence_and_nothing_is_written(tmp_path, platform):
    (tmp_path / "weights").mkdir()
    result = platform.hub("init", "nope", "--from-mlflow", str(tmp_path / "weights"), cwd=tmp_path)
    assert result.returncode == 2
    assert "is not an MLflow model folder (it has no MLmodel file)" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "nope").exists()
    both = platform.hub("init", "n", "--from-mlflow", "x", "--template", "sklearn", cwd=tmp_path)
    assert both.returncode == 2 and "takes no --template" in both.stderr
    with pytest.raises(UsageError, match="names no flavor"):
        (tmp_path / "weights" / "MLmodel").write_text("artifact_path: model\n")
        read_mlflow_model(tmp_path / "weights")


def deploy_mlflow(platform, name: str, folder: Path) -> Path:
    parent = platform.home / "projects"
    parent.mkdir(exist_ok=True)
    platform.hub("init", name, "--from-mlflow", str(folder), "--dir", str(parent), check=True)
    project = parent / name
    assert (project / "model" / folder.name / "MLmodel").is_file()
    platform.deploy(project)
    return project


def test_an_mlflow_sklearn_model_deploys_and_answers_the_guides_client(saved, platform):
    project = deploy_mlflow(platform, "iris-mlflow", saved["sklearn"])
    main_py = (project / "src" / "main.py").read_text()
    assert (
        "skops.io.load" in main_py
        and "mlflow" not in (project / "src/requirements.txt").read_text()
    )

    assert run_guide_client(platform, "iris-mlflow", payload=FLOWERS) == [0, 2]
    # MLflow's own scoring formats work too.
    split = {"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": FLOWERS}}
    assert run_guide_client(platform, "iris-mlflow", payload=split) == [0, 2]
    assert run_guide_client(platform, "iris-mlflow", payload={"instances": FLOWERS[:1]}) == [0]


def test_a_custom_pyfunc_model_deploys_with_mlflow_and_answers_the_guides_client(saved, platform):
    project = deploy_mlflow(platform, "doubler-mlflow", saved["pyfunc"])
    assert "mlflow.pyfunc.load_model(MLFLOW_MODEL)" in (project / "src" / "main.py").read_text()
    records = [{"x": 1}, {"x": 20}]
    assert run_guide_client(platform, "doubler-mlflow", payload=records) == [2, 40]
