"""Try in kernel's runner (jupyter_hub_api/notebook/try_in_kernel.py) on real projects.

The projects are real: the sklearn template's main.py with a model fitted and saved with joblib
here, handlers of each style the worker serves, and one run through a real ipykernel that reads
the display_data message the JupyterLab frontend reads.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from jupyter_hub_api.notebook import try_in_kernel
from jupyter_hub_api.notebook.try_in_kernel import MIME, run
from jupyter_hub_api.project.scaffold import TEMPLATES_DIR

SKLEARN_MAIN = (TEMPLATES_DIR / "sklearn" / "src" / "main.py").read_text()


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory) -> Path:
    joblib = pytest.importorskip("joblib")
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    path = tmp_path_factory.mktemp("trained") / "iris.joblib"
    joblib.dump(model, path)
    return path


def make_project(root: Path, main: str, model: Path | None = None, name: str = "iris") -> Path:
    project = root / "work" / name
    (project / "src").mkdir(parents=True)
    (project / "model").mkdir()
    (project / "src" / "main.py").write_text(main)
    (project / "hub_config.json").write_text(json.dumps({"name": name}))
    if model is not None:
        (project / "model" / "model.joblib").write_bytes(model.read_bytes())
    return project


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the kernel's working directory = the server root here
    return tmp_path


def test_sklearn_template_predicts_with_the_model_in_model_dir(root, iris_model):
    make_project(root, SKLEARN_MAIN, iris_model)
    result = run(SKLEARN_MAIN, "[[5.1, 3.5, 1.4, 0.2]]", project="work/iris")
    assert result["status"] == "ok", result
    assert result["handler_style"] == "hub_handler"
    assert result["output"][0]["prediction"] == 0
    assert set(result["output"][0]["probabilities"]) == {"0", "1", "2"}
    assert result["model_dir"] == str(root / "work" / "iris" / "model")
    assert result["load_seconds"] > 0 and result["call_seconds"] > 0
    # The kernel is left as it was: working directory, MODEL_DIR, sys.path, no module main.
    assert Path.cwd() == root
    assert "MODEL_DIR" not in os.environ
    assert "main" not in sys.modules
    assert str(root / "work" / "iris" / "src") not in sys.path


def test_the_handler_sees_model_dir_src_on_path_and_src_as_working_directory(root):
    main = dedent(
        """
        import os, sys
        from hub import hub_handler
        import helper

        print("loading", flush=True)

        @hub_handler
        def handle(inputs, context):
            print("called with", inputs)
            print("to stderr", file=sys.stderr)
            return {
                "model_dir": os.environ["MODEL_DIR"],
                "context_model_dir": context.model_dir,
                "api": context.api,
                "path0": sys.path[0],
                "cwd": os.getcwd(),
                "files": sorted(os.listdir(os.environ["MODEL_DIR"])),
                "helper": helper.VALUE,
            }
        """
    )
    project = make_project(root, main)
    (project / "src" / "helper.py").write_text("VALUE = 1\n")
    (project / "model" / "weights.bin").write_bytes(b"\0")
    result = run(main, '{"x": 1}', project="work/iris")
    assert result["status"] == "ok", result
    out = result["output"]
    src = str((project / "src").resolve())
    assert out["model_dir"] == out["context_model_dir"] == str(project / "model")
    assert out["path0"] == src and out["cwd"] == src
    assert out["files"] == ["weights.bin"]
    assert out["api"] == "try/iris"
    assert out["helper"] == 1
    assert result["stdout"] == "loading\ncalled with {'x': 1}\n"
    assert result["stderr"] == "to stderr\n"

    # Re-running imports afresh: main.py and the project's own modules.
    (project / "src" / "helper.py").write_text("VALUE = 2\n")
    again = run(main, '{"x": 1}', project="work/iris")
    assert again["output"]["helper"] == 2


def test_the_editors_unsaved_text_is_what_runs(root):
    make_project(
        root,
        "from hub import hub_handler\n\n@hub_handler\ndef f(inputs, context):\n    return 'saved'\n",
    )
    edited = "from hub import hub_handler\n\n@hub_handler\ndef f(inputs, context):\n    return 'unsaved ' + inputs\n"
    result = run(edited, '"edit"', project="work/iris")
    assert result["status"] == "ok", result
    assert result["output"] == "unsaved edit"


def test_a_raising_handler_gives_its_traceback_in_main_py(root):
    main = dedent(
        """
        from hub import hub_handler

        @hub_handler
        def f(inputs, context):
            print("before")
            return 1 / inputs["zero"]
        """
    )
    make_project(root, "# an older saved version\n")
    result = run(main, '{"zero": 0}', project="work/iris")
    assert result["status"] == "error"
    assert result["error"] == {"type": "ZeroDivisionError", "message": "division by zero"}
    tb = result["traceback"]
    assert tb.startswith("Traceback (most recent call last):")
    assert 'main.py", line 6, in f' in tb
    assert 'return 1 / inputs["zero"]' in tb  # the editor's line, not the saved file's
    assert "_worker.py" not in tb
    assert result["stdout"] == "before\n"
    assert result["stderr"] == ""


def test_an_import_error_is_a_load_failure_with_its_traceback(root):
    main = "import no_such_module_here\n"
    make_project(root, main)
    result = run(main, "1", project="work/iris")
    assert result["status"] == "load_failed"
    assert result["error"]["type"] == "LoadError"
    assert "No module named 'no_such_module_here'" in result["error"]["message"]
    assert 'main.py", line 1' in result["traceback"]


def test_no_handler_is_the_workers_sentence(root):
    make_project(root, "x = 1\n")
    result = run("x = 1\n", "1", project="work/iris")
    assert result["status"] == "load_failed"
    assert "marks no function with @hub_handler" in result["error"]["message"]


def test_the_2021_event_style_gets_a_json_string_and_answers_status_and_body(root):
    main = dedent(
        """
        import json

        def handler(event, context):
            inputs = json.loads(event["inputs"])
            if inputs == "bad":
                return {"statusCode": 400, "body": json.dumps("no bad inputs")}
            return {"statusCode": 200, "body": json.dumps({"got": inputs, "type": type(event["inputs"]).__name__})}
        """
    )
    make_project(root, main)
    ok = run(main, "[1, 2]", project="work/iris")
    assert ok["status"] == "ok", ok
    assert ok["handler_style"] == "event"
    assert ok["output"] == {"got": [1, 2], "type": "str"}
    bad = run(main, '"bad"', project="work/iris")
    assert bad["status"] == "error"
    assert bad["error"] == {"type": "HandlerStatus", "message": "no bad inputs", "status": 400}
    assert bad["traceback"] is None


def test_batch_and_generator_handlers(root):
    batch = dedent(
        """
        from hub import hub_handler

        @hub_handler(batch=True, max_batch_size=8)
        def f(inputs_list, contexts):
            return [{"n": len(inputs_list), "double": x * 2} for x in inputs_list]
        """
    )
    make_project(root, batch)
    result = run(batch, "21", project="work/iris")
    assert result["status"] == "ok", result
    assert result["handler_style"] == "batch"
    assert result["output"] == {"n": 1, "double": 42}

    stream = dedent(
        """
        from hub import hub_handler

        @hub_handler
        def f(inputs, context):
            for word in inputs.split():
                yield {"word": word}
        """
    )
    result = run(stream, '"a b c"', project="work/iris")
    assert result["status"] == "ok", result
    assert result["streamed"] is True
    assert result["output"] == [{"word": "a"}, {"word": "b"}, {"word": "c"}]


def test_wizard_staging_sees_the_chosen_model_files_under_model(root, iris_model):
    (root / "trained").mkdir()
    (root / "trained" / "model.joblib").write_bytes(iris_model.read_bytes())
    result = run(
        SKLEARN_MAIN,
        "[[6.7, 3.0, 5.2, 2.3]]",
        template="sklearn",
        name="iris",
        model_files=["trained/model.joblib"],
    )
    assert result["status"] == "ok", result
    assert result["output"][0]["prediction"] == 2
    assert not Path(result["model_dir"]).exists()  # the staging folder is removed afterwards


def test_bad_requests_are_one_sentence_and_run_nothing(root):
    make_project(root, SKLEARN_MAIN)
    bad_json = run(SKLEARN_MAIN, "[1, 2", project="work/iris")
    assert bad_json["status"] == "bad_request"
    assert bad_json["error"]["message"].startswith("The body is not valid JSON: ")
    assert run(SKLEARN_MAIN, "  ", project="work/iris")["error"]["message"].startswith(
        "The body is empty"
    )
    outside = run(SKLEARN_MAIN, "1", project="../elsewhere")
    assert outside["error"]["message"] == (
        "The project folder ../elsewhere is outside the server's root folder."
    )
    outside = run(SKLEARN_MAIN, "1", template="sklearn", model_files=["/etc/passwd"])
    assert "outside the server's root folder" in outside["error"]["message"]
    assert run(SKLEARN_MAIN, "1", project="work/nope")["error"]["message"] == (
        "The project folder work/nope does not exist."
    )


def test_through_a_real_kernel_the_result_is_one_display_data_message(root, iris_model):
    """What the frontend does: execute one call of try_in_kernel.main in an ipykernel."""
    from jupyter_client.manager import start_new_kernel

    make_project(root, SKLEARN_MAIN, iris_model)
    request = {
        "source": SKLEARN_MAIN,
        "body": "[[5.1, 3.5, 1.4, 0.2]]",
        "project": "work/iris",
        "session_dir": "work/iris",
        "version": try_in_kernel.VERSION,
    }
    code = (
        "__import__('jupyter_hub_api.notebook.try_in_kernel', fromlist=['main'])"
        f".main(__import__('json').loads({json.dumps(json.dumps(request))}))"
    )
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(root / "work" / "iris"))
    try:
        found = []
        reply = client.execute_interactive(
            code,
            store_history=False,
            timeout=120,
            output_hook=lambda msg: found.append(msg),
        )
        assert reply["content"]["status"] == "ok"
        data = [m["content"]["data"] for m in found if m["msg_type"] == "display_data"]
        assert len(data) == 1
        result = data[0][MIME]
        assert result["status"] == "ok", result
        assert result["output"][0]["prediction"] == 0
        streams = [m for m in found if m["msg_type"] == "stream"]
        assert streams == []  # nothing the handler printed leaks as kernel output
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
