"""Models saved by MLflow (``mlflow.<flavor>.save_model``, or a ``log_model`` artifact folder).

Such a folder holds an ``MLmodel`` file (YAML: the flavors the model can be loaded as), the
weights, and the ``requirements.txt`` MLflow inferred when it saved the model (pinned).
:func:`read_mlflow_model` reads it; ``hub init NAME --from-mlflow PATH`` copies the folder into
``model/`` and writes ``src/main.py`` and ``src/requirements.txt`` from it
(:func:`write_mlflow_project`).

How ``main.py`` loads the model, measured on an iris LogisticRegression saved by MLflow 3.17
(2 cores, load average 11): loaded by MLflow (``mlflow.pyfunc.load_model``), the API's
environment has 89 packages in 825 MB (MLflow with its server, SQLAlchemy, Flask...) and a
worker's cold start (import + load + first predict) takes 20-24 s and 280 MB; loaded with the
sklearn flavor's own format (skops, pickle or cloudpickle, as the MLmodel says), 17 packages in
119 MB, 11-12 s and 170 MB. So a model with the ``sklearn`` flavor is loaded that way, with
MLflow's recorded requirements minus MLflow itself; every other flavor (PyTorch, Transformers,
a custom ``python_model``...) through ``mlflow.pyfunc``, with the recorded requirements but
``mlflow-skinny`` (the same version, without MLflow's server and UI) and pandas in place of
``mlflow``: ``mlflow.pyfunc.load_model`` needs no more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from .requirements import normalise_requirements, requirement_names
from .snippets import JSON_READY

MLMODEL = "MLmodel"
SKLEARN_FORMATS = ("skops", "pickle", "cloudpickle")
MLFLOW_PACKAGES = ("mlflow", "mlflow-skinny")


@dataclass
class MlflowModel:
    """What an MLflow model folder says about itself."""

    path: Path
    flavors: list[str]
    loader: str  # "sklearn" (the flavor's own file format) or "pyfunc" (mlflow.pyfunc)
    requirements: str  # normalised requirements.txt text the API's environment gets
    python_version: str | None = None
    mlflow_version: str | None = None
    sklearn: dict = field(default_factory=dict)  # the sklearn flavor's settings

    def as_dict(self) -> dict:
        """JSON-ready summary (for the wizard's model step)."""
        return {
            "path": str(self.path),
            "flavors": self.flavors,
            "loader": self.loader,
            "requirements": self.requirements.splitlines(),
            "python_version": self.python_version,
            "mlflow_version": self.mlflow_version,
        }


def is_mlflow_model(path: str | Path) -> bool:
    """Whether ``path`` is a folder with an ``MLmodel`` file."""
    return (Path(path) / MLMODEL).is_file()


def read_mlflow_model(path: str | Path) -> MlflowModel:
    """Read the MLflow model folder ``path``; raises :class:`UsageError` saying what is wrong."""
    import yaml

    folder = Path(path).expanduser()
    if not is_mlflow_model(folder):
        raise UsageError(
            f"{path} is not an MLflow model folder (it has no {MLMODEL} file).",
            type="bad_mlflow_model",
            hint="Give the folder mlflow.<flavor>.save_model wrote (or a log_model artifact "
            "folder downloaded with mlflow.artifacts.download_artifacts).",
        )
    try:
        meta = yaml.safe_load((folder / MLMODEL).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise UsageError(
            f"{folder / MLMODEL} cannot be read: {str(err).splitlines()[0]}.",
            type="bad_mlflow_model",
            hint="Save the model again with mlflow.<flavor>.save_model.",
        ) from None
    flavors = meta.get("flavors") if isinstance(meta, dict) else None
    if not isinstance(flavors, dict) or not flavors:
        raise UsageError(
            f"{folder / MLMODEL} names no flavor, so nothing can load the model.",
            type="bad_mlflow_model",
            hint="Save the model again with mlflow.<flavor>.save_model.",
        )
    sklearn = flavors.get("sklearn") or {}
    pickled = sklearn.get("pickled_model")
    own_loader = (
        sklearn.get("serialization_format", "pickle") in SKLEARN_FORMATS
        and isinstance(pickled, str)
        and (folder / pickled).is_file()
    )
    if not own_loader and "python_function" not in flavors:
        raise UsageError(
            f"The MLflow model {path} has only the flavors {', '.join(flavors)}, which "
            "mlflow.pyfunc cannot load.",
            type="bad_mlflow_model",
            hint="Save it with a flavor that has python_function (most do), or write "
            "src/main.py yourself with hub init --model-file.",
        )
    recorded = folder / "requirements.txt"
    text = recorded.read_text(encoding="utf-8") if recorded.is_file() else ""
    requirements = normalise_requirements(text, f"{path}/requirements.txt")
    if own_loader:
        requirements = "".join(line + "\n" for line in _without_mlflow(requirements))
    else:
        requirements = _skinny(requirements, meta.get("mlflow_version"))
    pyfunc = flavors.get("python_function") or {}
    return MlflowModel(
        path=folder,
        flavors=list(flavors),
        loader="sklearn" if own_loader else "pyfunc",
        requirements=requirements,
        python_version=pyfunc.get("python_version"),
        mlflow_version=meta.get("mlflow_version"),
        sklearn=sklearn if own_loader else {},
    )


def write_mlflow_project(project: Path, model: MlflowModel) -> None:
    """Write ``src/main.py`` and ``src/requirements.txt`` of ``project`` for ``model``, whose
    folder ``init_project`` copied to ``model/<its name>/``."""
    (project / "src" / "main.py").write_text(mlflow_main_py(model), encoding="utf-8")
    (project / "src" / "requirements.txt").write_text(model.requirements, encoding="utf-8")


def describe_mlflow_folder(path: Path, shown: str | None = None) -> dict:
    """What the wizard's model-file picker shows for an MLflow folder: :meth:`as_dict` without
    the absolute path, with the ``main_py`` ``hub init --from-mlflow`` writes; or ``{"error":
    sentence}`` when it cannot be deployed as it is (naming the folder ``shown``)."""
    try:
        model = read_mlflow_model(path)
    except UsageError as err:
        return {"error": err.message.replace(str(path), shown or path.name)}
    info = model.as_dict()
    del info["path"]
    info["main_py"] = mlflow_main_py(model)
    return info


def mlflow_main_py(model: MlflowModel) -> str:
    """The ``src/main.py`` that loads ``model`` from ``model/<its folder name>/``."""
    folder = model.path.resolve().name
    if model.loader == "sklearn":
        fmt = model.sklearn.get("serialization_format", "pickle")
        code = SKLEARN_FORMAT_LOAD[fmt].format(
            file=json.dumps(model.sklearn["pickled_model"]),
            trusted=repr(model.sklearn.get("skops_trusted_types")),
        )
        load = SKLEARN_LOAD.format(format=fmt, code=code)
    else:
        load = PYFUNC_LOAD
    return MAIN.format(
        flavors=", ".join(model.flavors),
        mlflow_version=model.mlflow_version or "unknown",
        folder=json.dumps(folder),
        folder_plain=folder,
        load=load,
        json_ready=JSON_READY,
    )


def _without_mlflow(normalised: str) -> list[str]:
    """The lines of ``normalised`` that do not name MLflow."""
    lines = normalised.splitlines()
    return [
        line for line in lines if not set(requirement_names(line + "\n")) & set(MLFLOW_PACKAGES)
    ]


def _skinny(normalised: str, version: str | None) -> str:
    """``normalised`` with mlflow-skinny (the same version) and pandas in place of mlflow."""
    kept = _without_mlflow(normalised)
    kept.append(f"mlflow-skinny=={version}" if version else "mlflow-skinny")
    if "pandas" not in requirement_names(normalised):
        kept.append("pandas")  # mlflow.pyfunc imports it; mlflow-skinny does not require it
    return normalise_requirements("".join(line + "\n" for line in kept))


MAIN = '''\
"""A model saved by MLflow {mlflow_version} (flavors: {flavors}) as an API.

`hub init --from-mlflow` copied the MLflow model folder into model/{folder_plain} and wrote this
file; edit it as you like. The platform imports it once per worker (which loads the model), then
calls inference_handler for every POST request.

The body is what MLflow's own scoring server takes: rows ``[[5.1, 3.5, 1.4, 0.2], ...]``,
``{{"instances": rows}}`` or ``{{"inputs": rows}}``, records ``[{{"column": value}}, ...]``, or
``{{"dataframe_split": {{"columns": [...], "data": [...]}}}}`` / ``{{"dataframe_records": [...]}}``.
"""

import os

import numpy as np

from hub import hub_handler

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.getenv("MODEL_DIR", os.path.join(HERE, "..", "model"))
MLFLOW_MODEL = os.path.join(MODEL_DIR, {folder})

{load}


def model_input(inputs):
    """The decoded JSON body as the model takes it: a data frame for records, else an array."""
    if isinstance(inputs, dict):
        if "dataframe_split" in inputs or "dataframe_records" in inputs:
            import pandas as pd

            if "dataframe_records" in inputs:
                return pd.DataFrame.from_records(inputs["dataframe_records"])
            split = inputs["dataframe_split"]
            return pd.DataFrame(split["data"], columns=split.get("columns"))
        for key in ("instances", "inputs"):
            if key in inputs:
                inputs = inputs[key]
                break
    if isinstance(inputs, list) and inputs and all(isinstance(row, dict) for row in inputs):
        import pandas as pd

        return pd.DataFrame.from_records(inputs)
    rows = np.asarray(inputs)
    return rows.reshape(1, -1) if rows.ndim == 1 else rows  # one row


{json_ready}

@hub_handler
def inference_handler(inputs, context):
    """The model's predictions for the rows of the body, one per row."""
    return json_ready(model.predict(model_input(inputs)))
'''

SKLEARN_LOAD = """\
# Loaded once per worker, with the sklearn flavor's own format ({format}), so MLflow need not be
# in the environment (about 700 MB and seconds more per cold start). Only load models you trust.
{code}"""

SKLEARN_FORMAT_LOAD = {
    "skops": """\
import skops.io  # noqa: E402

model = skops.io.load(os.path.join(MLFLOW_MODEL, {file}), trusted={trusted})""",
    "pickle": """\
import pickle  # noqa: E402

with open(os.path.join(MLFLOW_MODEL, {file}), "rb") as f:
    model = pickle.load(f)""",
    "cloudpickle": """\
import cloudpickle  # noqa: E402

with open(os.path.join(MLFLOW_MODEL, {file}), "rb") as f:
    model = cloudpickle.load(f)""",
}

PYFUNC_LOAD = """\
# Loaded once per worker by MLflow itself. The model is yours: allow MLflow to unpickle it.
os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
import mlflow.pyfunc  # noqa: E402

model = mlflow.pyfunc.load_model(MLFLOW_MODEL)"""
