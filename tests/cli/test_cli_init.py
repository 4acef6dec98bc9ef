"""`hub init` through the real CLI: what the wizard (with --json) and a terminal see."""

from __future__ import annotations

import os
import re
import shlex

import click
import pytest

from jupyter_hub_api.cli.main import cli


def test_init_json_result_carries_the_project_path_and_files(hub, tmp_path, iris_model):
    run = hub(
        "init",
        "iris",
        "--template",
        "sklearn",
        "--model-file",
        str(iris_model),
        "--dir",
        str(tmp_path),
        "--json",
    )
    assert run.code == 0, run.stderr
    result = run.result
    assert result["project"] == str(tmp_path / "iris")
    assert "src/main.py" in result["files"] and "hub_config.json" in result["files"]
    assert result["model_files"] == ["model/iris-tree.joblib"]
    assert result["model_bytes"] == iris_model.stat().st_size
    assert [e["status"] for e in run.of("step")] == ["started", "done"]
    assert (
        tmp_path / "iris" / "model" / "iris-tree.joblib"
    ).read_bytes() == iris_model.read_bytes()


def test_init_for_a_person_lists_the_files_and_next_steps(hub, tmp_path):
    run = hub("init", "demo", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert "src/main.py" in run.stdout and "hub build" in run.stdout
    assert (tmp_path / "demo" / "hub_config.json").is_file()


@pytest.mark.parametrize("name", ["Bad_Name", "1abc", "a" * 64, "has space", "../x"])
def test_an_invalid_name_exits_2_with_the_rule(hub, tmp_path, name):
    run = hub("init", name, "--dir", str(tmp_path), "--json")
    assert run.code == 2
    assert run.error["type"] == "bad_name"
    assert "lower-case letters" in run.error["message"]
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_exits_2_and_is_not_touched(hub, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    run = hub("init", "taken", cwd=tmp_path)
    assert run.code == 2
    assert "already exists" in run.stderr and "Traceback" not in run.stderr
    assert os.listdir(tmp_path / "taken") == ["notes.txt"]


def test_a_missing_model_file_exits_2_and_writes_nothing(hub, tmp_path):
    run = hub("init", "m", "--model-file", "nowhere.joblib", "--json", cwd=tmp_path)
    assert run.code == 2
    assert run.error["type"] == "missing_model_file" and "nowhere.joblib" in run.error["message"]
    assert list(tmp_path.iterdir()) == []


def test_a_directory_loop_exits_2_and_writes_nothing(hub, tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "w.bin").write_bytes(b"w")
    os.symlink("..", weights / "up")  # weights/up -> tmp_path, which holds weights: a loop
    run = hub("init", "loopy", "--model-file", "weights", "--json", cwd=tmp_path)
    assert run.code == 2
    assert run.error["type"] == "directory_loop"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights"]


def test_an_unknown_template_exits_2_listing_the_templates(hub, tmp_path):
    run = hub("init", "x", "--template", "caffe", "--json", cwd=tmp_path)
    assert run.code == 2
    assert run.error["type"] == "bad_template" and "sklearn" in run.error["message"]
    assert list(tmp_path.iterdir()) == []


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


COMMANDS = list(_commands(cli))
# "hub ..." up to the end of its shell segment (&&, |, ;, the ")" of a $(...)).
_HUB_CALL = re.compile(r"(?<![\w/-])hub\s[^\n|;&)]*")


def _parse_like_hub(argv: list[str]) -> None:
    """Parse ``argv`` with the real command's own parser; raises click's errors as `hub` would."""
    command: click.Command = cli
    while isinstance(command, click.Group):
        assert argv, "an example that names a group but no command"
        name, argv = argv[0], argv[1:]
        assert name in command.commands, f"no command {name!r}"
        command = command.commands[name]
    command.make_context(name, argv)


def test_the_top_level_help_lists_every_command(hub):
    run = hub("--help")
    assert run.code == 0
    for path in COMMANDS:
        assert f"  {path[0]} " in run.stdout, path


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_examples_that_its_parser_accepts(hub, path):
    run = hub(*path, "--help")
    assert run.code == 0, run.stderr
    assert run.stdout.startswith(f"Usage: hub {' '.join(path)} ")
    _, marker, examples = run.stdout.partition("Example")
    assert marker, f"hub {' '.join(path)} --help shows no example"
    calls = [shlex.split(m, comments=True) for m in _HUB_CALL.findall(examples)]
    assert any(call[1 : 1 + len(path)] == list(path) for call in calls), calls
    for call in calls:
        try:
            _parse_like_hub(call[1:])
        except click.ClickException as err:
            pytest.fail(f"the example `{shlex.join(call)}` does not parse: {err.format_message()}")
