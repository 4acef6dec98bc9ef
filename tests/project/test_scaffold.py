"""`hub init` as a library call: the folder of ARCHITECTURE.md (projects and builds), model files copied, and nothing
half-written when anything goes wrong."""

from __future__ import annotations

import json
import os

import pytest

from jupyter_hub_api.errors import UsageError, WorkError
from jupyter_hub_api.project.config import load_config
from jupyter_hub_api.project.handler_check import find_handler
from jupyter_hub_api.project.requirements import normalise_requirements
from jupyter_hub_api.project.scaffold import TEMPLATES, init_project

EXPECTED = {
    ".dockerignore",
    "Dockerfile",
    "hub_config.json",
    "src/main.py",
    "src/requirements.txt",
    "src/utils.py",
}


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_writes_the_project_folder(tmp_path, template):
    result = init_project("my-api", template, parent=tmp_path, python="3.11")
    project = tmp_path / "my-api"
    assert result["project"] == str(project)
    assert set(result["files"]) == EXPECTED
    assert (project / "model").is_dir()
    config = load_config(project)
    assert config["name"] == "my-api" and config["python"] == "3.11"
    assert find_handler(project / "src" / "main.py") == "inference_handler"
    normalise_requirements((project / "src" / "requirements.txt").read_text())
    # the templates are correct Python (the heavy frameworks are imported only when run)
    compile((project / "src" / "main.py").read_text(), "main.py", "exec")
    main = (project / "src" / "main.py").read_text()
    assert 'os.getenv("MODEL_DIR"' in main
    dockerfile = (project / "Dockerfile").read_text()
    assert "COPY src/" in dockerfile and "COPY model" not in dockerfile
    assert "model/" in (project / ".dockerignore").read_text().splitlines()
    # no temporary folder is left beside the project
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-api"]


def test_model_files_and_folders_are_copied_into_model(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"w" * 1000)
    tokenizer = tmp_path / "tokenizer"
    (tokenizer / "sub").mkdir(parents=True)
    (tokenizer / "vocab.txt").write_text("a\nb\n")
    (tokenizer / "sub" / "merges.txt").write_text("m")
    parent = tmp_path / "apis"
    parent.mkdir()
    result = init_project("t", "blank", [tmp_path / "weights.bin", tokenizer], parent=parent)
    assert result["model_files"] == [
        "model/tokenizer/sub/merges.txt",
        "model/tokenizer/vocab.txt",
        "model/weights.bin",
    ]
    assert result["model_bytes"] == 1000 + 4 + 1
    assert (parent / "t" / "model" / "weights.bin").read_bytes() == b"w" * 1000


def test_an_existing_folder_is_refused_and_left_untouched(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep me")
    with pytest.raises(UsageError, match="already exists") as err:
        init_project("taken", "blank", parent=tmp_path)
    assert err.value.type == "project_exists"
    assert os.listdir(tmp_path / "taken") == ["mine.txt"]


def test_a_missing_model_file_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(UsageError, match="not there") as err:
        init_project("m", "sklearn", [tmp_path / "nope.joblib"], parent=tmp_path)
    assert err.value.type == "missing_model_file"
    assert list(tmp_path.iterdir()) == []


def test_a_directory_loop_in_a_model_folder_is_refused(tmp_path):
    model = tmp_path / "weights"
    (model / "inner").mkdir(parents=True)
    (model / "inner" / "file.bin").write_bytes(b"x")
    os.symlink(model, model / "inner" / "back-to-top")
    parent = tmp_path / "apis"
    parent.mkdir()
    with pytest.raises(UsageError, match="directory loop") as err:
        init_project("loop", "blank", [model], parent=parent)
    assert err.value.type == "directory_loop"
    assert list(parent.iterdir()) == []


def test_a_self_referencing_link_is_refused(tmp_path):
    model = tmp_path / "weights"
    model.mkdir()
    os.symlink(model / "me", model / "me")
    with pytest.raises(UsageError, match="leads nowhere"):
        init_project("selfie", "blank", [model], parent=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights"]


def test_a_failure_midway_leaves_no_half_written_project(tmp_path):
    # The second model file vanishes after the checks, while the first is being copied: the
    # copy fails midway, after the template was written.
    good = tmp_path / "good.bin"
    good.write_bytes(b"g" * 1000)
    doomed = tmp_path / "doomed.bin"
    doomed.write_bytes(b"d")
    parent = tmp_path / "apis"
    parent.mkdir()

    class VanishAfterFirst:
        def progress(self, done, total, step=None, bytes_=False):
            doomed.unlink(missing_ok=True)

    with pytest.raises(WorkError, match="doomed.bin"):
        init_project("half", "blank", [good, doomed], parent=parent, out=VanishAfterFirst())
    assert list(parent.iterdir()) == []


def test_a_pipe_is_refused_as_a_model_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UsageError, match="not a regular file"):
        init_project("p", "blank", [tmp_path / "pipe"], parent=tmp_path)


def test_an_unknown_template_lists_the_choices(tmp_path):
    with pytest.raises(UsageError, match="sklearn"):
        init_project("x", "caffe", parent=tmp_path)


def test_the_config_written_is_plain_json_with_runtime_defaults(tmp_path):
    init_project("cfg", "blank", parent=tmp_path, python="3.11")
    data = json.loads((tmp_path / "cfg" / "hub_config.json").read_text())
    assert set(data) == {"name", "version", "python", "runtime"}
    assert {
        "timeout_seconds",
        "min_workers",
        "max_workers",
        "idle_seconds",
        "max_body_bytes",
    } <= set(data["runtime"])


def test_a_parent_folder_that_cannot_be_written_is_a_clear_error(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    (parent / "blocker").write_text("")  # a file where a folder is expected
    with pytest.raises(UsageError, match="does not exist"):
        init_project("x", "blank", parent=parent / "blocker")
    if os.geteuid() != 0:  # root writes anywhere: only meaningful for ordinary users
        parent.chmod(0o555)
        try:
            with pytest.raises(UsageError, match="Cannot create a folder"):
                init_project("x", "blank", parent=parent)
        finally:
            parent.chmod(0o755)
