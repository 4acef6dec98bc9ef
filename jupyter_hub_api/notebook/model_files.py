"""Save a model object that lives in the kernel into a project's ``model/`` folder.

Supported: a ``torch.nn.Module`` (``torch.save`` of the whole module, ``model/model.pt``) and
every other object that pickle can save, scikit-learn estimators and pipelines first
(``joblib.dump``, ``model/model.joblib``). ``None`` means no model file. Before anything is
written the object is pickled once into nothing to learn which modules it is made of: those
are what the API's environment must have (a pipeline holding an XGBoost step needs xgboost),
and a class defined in the notebook itself (``__main__``) is refused, since no worker could
import it.
"""

from __future__ import annotations

import os
import pickle
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError

JOBLIB_FILE = "model.joblib"
TORCH_FILE = "model.pt"
MODEL_FILES = (JOBLIB_FILE, TORCH_FILE)  # what deploy() writes; any other file is the user's


@dataclass
class ModelFormat:
    """How a model is stored and loaded back: the file, main.py's import and load lines."""

    filename: str | None
    imports: list[str] = field(default_factory=list)
    load: str = "model = None"
    modules: set[str] = field(default_factory=set)  # top-level modules the pickle names


def model_format(model) -> ModelFormat:
    """The format ``model`` is saved in and the modules it needs; raises :class:`UsageError`
    when it cannot be saved so that a worker can load it."""
    if model is None:
        return ModelFormat(None)
    modules = _pickled_modules(model)
    if _is_torch_module(model):
        return ModelFormat(
            TORCH_FILE,
            ["import torch"],
            f'model = torch.load(os.path.join(MODEL_DIR, "{TORCH_FILE}"), '
            'map_location="cpu", weights_only=False)\nmodel.eval()',
            modules | {"torch"},
        )
    try:
        import joblib  # noqa: F401 - installed with scikit-learn; needed to save the model
    except ImportError:
        raise UsageError(
            "Saving the model needs joblib, which this kernel does not have.",
            type="bad_model",
            hint="Install it in the kernel (%pip install joblib) and run the cell again.",
        ) from None
    return ModelFormat(
        JOBLIB_FILE,
        ["import joblib"],
        f'model = joblib.load(os.path.join(MODEL_DIR, "{JOBLIB_FILE}"))',
        modules | {"joblib"},
    )


def save_model(model, fmt: ModelFormat, folder: Path) -> Path | None:
    """Write ``model`` into ``folder`` as ``fmt`` says, atomically (a temporary file renamed);
    the path written, or None for no model."""
    if fmt.filename is None:
        return None
    target = folder / fmt.filename
    tmp = folder / f".{fmt.filename}.tmp-{os.getpid()}"
    try:
        if fmt.filename == TORCH_FILE:
            import torch

            torch.save(model, tmp)
        else:
            import joblib

            joblib.dump(model, tmp)
        os.replace(tmp, target)
    except Exception as err:
        tmp.unlink(missing_ok=True)
        raise _cannot_save(model, err) from None
    return target


def _is_torch_module(model) -> bool:
    torch = sys.modules.get("torch")  # never import torch for a model that is not one
    return torch is not None and isinstance(model, torch.nn.Module)


_NAMED = (type, types.FunctionType, types.BuiltinFunctionType)


class _ModuleRecorder(pickle.Pickler):
    """A pickler that writes nowhere and notes the module of every class, function and object."""

    def __init__(self) -> None:
        super().__init__(_Discard(), protocol=pickle.HIGHEST_PROTOCOL)
        self.modules: set[str] = set()
        self.notebook_names: set[str] = set()

    def persistent_id(self, obj):
        owner = obj if isinstance(obj, _NAMED) else type(obj)
        module = getattr(owner, "__module__", None)
        if isinstance(module, str):
            self.modules.add(module.split(".")[0])
            if module == "__main__":
                self.notebook_names.add(getattr(owner, "__qualname__", repr(owner)))
        return None  # pickle every object as usual


class _Discard:
    def write(self, data) -> int:
        return len(data)


def _pickled_modules(model) -> set[str]:
    recorder = _ModuleRecorder()
    try:
        recorder.dump(model)
    except Exception as err:
        failed = err
    else:
        failed = None
    if recorder.notebook_names:  # checked first: pickling such a class may fail too
        names = ", ".join(sorted(recorder.notebook_names))
        raise UsageError(
            f"The model uses {names}, defined in this notebook, which a deployed API cannot "
            "import.",
            type="bad_model",
            hint="Move that code into a .py file beside the notebook and import it from there "
            "(deploy() copies it into src/).",
        )
    if failed is not None:
        raise _cannot_save(model, failed)
    return recorder.modules


def _cannot_save(model, err: Exception) -> UsageError:
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return UsageError(
        f"The model (a {type(model).__module__}.{type(model).__qualname__}) cannot be saved: "
        f"{reason}.",
        type="bad_model",
        hint="Deploy an object pickle can save (a scikit-learn estimator, a torch.nn.Module, "
        "plain Python data): leave out open files, locks, connections and generators.",
    )
