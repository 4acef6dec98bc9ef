"""Requirements pinned to this interpreter's installs, for the modules a main.py imports."""

from __future__ import annotations

import importlib.metadata

import pytest

from jupyter_hub_api.errors import UsageError
from jupyter_hub_api.project.kernel_requirements import imported_modules, kernel_requirements

SKLEARN = f"scikit-learn=={importlib.metadata.version('scikit-learn')}"
NUMPY = f"numpy=={importlib.metadata.version('numpy')}"
JOBLIB = f"joblib=={importlib.metadata.version('joblib')}"

MAIN = """\
import json
import os.path
from collections import Counter

import numpy as np
from sklearn.linear_model import LogisticRegression

from hub import hub_handler
from . import sibling
from utils import helper


def lazy():
    try:
        import joblib
    except ImportError:
        joblib = None
    return joblib
"""


def test_imports_are_read_without_running_the_code():
    assert imported_modules(MAIN) == [
        "json", "os", "collections", "numpy", "sklearn", "hub", "utils", "joblib"
    ]  # fmt: skip


def test_modules_map_to_their_distributions_pinned_to_the_installed_versions():
    # sklearn is provided by scikit-learn; the standard library, hub and relative imports are
    # skipped; an import inside a function counts.
    found = kernel_requirements(MAIN, local=["utils"])
    assert found.lines == sorted([JOBLIB, NUMPY, SKLEARN])
    assert found.unresolved == {}
    assert found.text == "".join(line + "\n" for line in found.lines)


def test_a_module_nothing_installed_provides_is_reported_not_guessed():
    found = kernel_requirements("import numpy\nimport surely_not_installed_anywhere\n")
    assert found.lines == [NUMPY]
    assert found.unresolved == {"surely_not_installed_anywhere": "no installed package provides it"}
    assert found.as_dict()["unresolved"] == found.unresolved


def test_modules_the_code_needs_without_importing_them_are_added():
    # joblib.load of a pickled estimator imports sklearn although main.py never names it.
    assert kernel_requirements("import joblib\n", modules=["sklearn", "builtins"]).lines == [
        JOBLIB,
        SKLEARN,
    ]


def test_a_project_folder_reads_every_file_of_src_and_skips_its_own_modules(tmp_path):
    (tmp_path / "src" / "helpers").mkdir(parents=True)
    (tmp_path / "src" / "main.py").write_text("import utils\nimport helpers.x\nimport numpy\n")
    (tmp_path / "src" / "utils.py").write_text("import sklearn\n")
    (tmp_path / "src" / "helpers" / "x.py").write_text("")
    found = kernel_requirements(tmp_path)
    assert found.lines == [NUMPY, SKLEARN] and found.unresolved == {}


def test_source_that_is_not_python_is_one_sentence_with_the_line():
    with pytest.raises(UsageError, match=r"main.py line 2: .*Fix the syntax error first"):
        kernel_requirements("import numpy\ndef broken(:\n")
