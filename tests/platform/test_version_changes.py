"""What a version changed from the one before it, from two build records."""

from __future__ import annotations

import copy

from jupyter_hub_api.platform.version_changes import describe_changes

RECORD = {
    "code": [
        {"path": "main.py", "sha256": "a" * 64, "size": 10},
        {"path": "requirements.txt", "sha256": "b" * 64, "size": 5},
    ],
    "model": [{"path": "model.joblib", "sha256": "c" * 64, "size": 991}],
    "environment": {"key": "k1", "python": "3.11", "requirements": "scikit-learn==1.9.1"},
    "config": {"name": "iris", "version": "0.1.0", "runtime": {"max_workers": 2}},
}


def test_first_and_unchanged_versions():
    assert describe_changes(RECORD, None) == ["first version"]
    assert describe_changes(copy.deepcopy(RECORD), RECORD) == ["nothing changed"]


def test_files_requirements_label_and_settings():
    new = copy.deepcopy(RECORD)
    new["model"] = [{"path": "model.joblib", "sha256": "d" * 64, "size": 991}]
    new["code"].append({"path": "utils.py", "sha256": "e" * 64, "size": 3})
    new["code"][1]["sha256"] = "f" * 64
    new["environment"]["requirements"] = "scikit-learn==1.9.2"
    new["config"]["version"] = "0.2.0"
    new["config"]["runtime"] = {"max_workers": 4}
    assert describe_changes(new, RECORD) == [
        "model/model.joblib changed",
        "src/requirements.txt changed",
        "src/utils.py added",
        "label 0.1.0 → 0.2.0",
        "settings changed",
    ]


def test_requirements_without_the_file_and_many_files():
    new = copy.deepcopy(RECORD)
    new["environment"]["requirements"] = "numpy"
    assert describe_changes(new, RECORD) == ["requirements changed"]
    many = copy.deepcopy(RECORD)
    many["code"] = [{"path": f"m{i}.py", "sha256": "0" * 64, "size": 1} for i in range(6)]
    changes = describe_changes(many, RECORD)
    assert changes[-1] == "and 5 more files" and len(changes) == 4  # of 8
