"""Bad input to the CLI's platform commands: one sentence, the exit code of ARCHITECTURE.md (CLI events), no
traceback; and the hints the platform gives are commands that work as written."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

HUB = str(Path(sys.executable).with_name("hub"))  # the venv's console script


def _one_sentence_error(run, code: int, *words: str, users_traceback: bool = False) -> str:
    assert run.returncode == code, (run.returncode, run.stdout, run.stderr)
    if users_traceback:  # the handler's own traceback is shown, none of the product's frames
        assert "jupyter_hub_api/" not in run.stdout + run.stderr
        assert "_worker.py" not in run.stdout + run.stderr
    else:
        assert "Traceback" not in run.stdout + run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, run.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize(
    "args",
    [
        ["status", "nope"],
        ["versions", "--api", "nope"],
        ["rollback", "--api", "nope"],
        ["delete", "--api", "nope", "--yes"],
        ["logs", "nope"],
        ["logs", "nope", "--follow"],
        ["invocations", "nope"],
        ["invoke", "nope", '"hi"'],
    ],
)
def test_an_unknown_api_is_one_sentence_and_exit_2(platform_process, args):
    run = platform_process.hub(*args)
    _one_sentence_error(run, 2, "no API called 'nope'")


@pytest.mark.parametrize("args", [["status"], ["invocations", "x"], ["invoke", "x", "1"]])
def test_a_wrong_token_is_one_sentence_and_exit_2(platform_process, args):
    run = platform_process.hub(*args, token="not-the-token")
    _one_sentence_error(run, 2, "does not accept this token", "HUB_PLATFORM_TOKEN")


@pytest.mark.parametrize("token", [None, "some-token"])
@pytest.mark.parametrize("args", [["status"], ["platform", "start"], ["deploy"]])
def test_a_platform_url_without_a_scheme_says_to_add_it(platform_process, tmp_path, token, args):
    env = dict(platform_process.env, HUB_PLATFORM_URL=f"127.0.0.1:{platform_process.port}")
    if token:
        env["HUB_PLATFORM_TOKEN"] = token
    project = platform_process.make_project("schemeless")
    assert platform_process.hub("build", cwd=project).returncode == 0
    run = subprocess.run(  # noqa: S603 - argv list
        [HUB, *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    _one_sentence_error(
        run,
        2,
        f"HUB_PLATFORM_URL is '127.0.0.1:{platform_process.port}'",
        f"export HUB_PLATFORM_URL=http://127.0.0.1:{platform_process.port}",
    )


@pytest.mark.parametrize("content", ["garbage\n", "0" * 64 + "\n", "\x00\xff binary"])
def test_a_corrupt_last_build_file_says_so_and_build_repairs_it(platform_process, content):
    project = platform_process.make_project("damaged")
    (project / ".hub").mkdir(exist_ok=True)
    (project / ".hub" / "last-build").write_text(content, errors="surrogateescape")
    run = platform_process.hub("deploy", cwd=project)
    _one_sentence_error(run, 2, "last-build names no build of this machine", "hub build")
    assert platform_process.hub("build", "--deploy", cwd=project).returncode == 0


def test_the_sixth_api_hint_is_a_command_that_works(launch_platform):
    platform_process = launch_platform(max_apis=2)
    for name in ("first", "second"):
        platform_process.deploy(platform_process.make_project(name))
    third = platform_process.make_project("third")
    run = platform_process.hub("build", "--deploy", cwd=third)
    sentence = _one_sentence_error(run, 1, "allows 2 APIs", "(first, second)", "'third'")
    hinted = sentence.split("`")[1]  # hub delete --api <name>
    assert hinted == "hub delete --api <name>"
    argv = shlex.split(hinted.replace("<name>", "first"))[1:] + ["--yes"]
    assert platform_process.hub(*argv).returncode == 0
    assert platform_process.hub("deploy", cwd=third).returncode == 0


BROKEN = (
    "from hub import hub_handler\n"
    "raise RuntimeError('broken at import')\n"
    "@hub_handler\n"
    "def inference_handler(inputs, context):\n"
    "    return inputs\n"
)


def test_a_first_deploy_that_fails_to_load_shows_the_traceback_and_no_dead_end_hint(
    platform_process,
):
    project = platform_process.make_project("stillborn", main_py=BROKEN)
    run = platform_process.hub("build", "--deploy", cwd=project)
    sentence = _one_sentence_error(
        run, 1, "did not load", "Nothing was deployed", "hub dev", users_traceback=True
    )
    assert "hub logs" not in sentence
    assert "RuntimeError: broken at import" in run.stdout + run.stderr  # the traceback, relayed
    assert 'main.py", line 2' in run.stdout + run.stderr
    # It was right: there is no such API, so `hub logs` could only have said so.
    _one_sentence_error(platform_process.hub("logs", "stillborn"), 2, "no API called")

    as_json = platform_process.hub("build", "--deploy", "--json", cwd=project)
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert any("broken at import" in e.get("line", "") for e in events if e["event"] == "log")


def test_a_redeploy_that_fails_to_load_points_at_the_logs_of_the_live_api(platform_process):
    project = platform_process.make_project("sturdy")
    platform_process.deploy(project)
    (project / "src" / "main.py").write_text(BROKEN)
    run = platform_process.hub("build", "--deploy", cwd=project)
    sentence = _one_sentence_error(
        run, 1, "did not load", "previous version keeps serving", users_traceback=True
    )
    hinted = sentence.split("`")[1]
    assert hinted == "hub logs sturdy"
    logs = platform_process.hub(*shlex.split(hinted)[1:])
    assert logs.returncode == 0 and "RuntimeError: broken at import" in logs.stdout
