"""Project names and hub_config.json: every mistake names the field and the fix."""

from __future__ import annotations

import json

import pytest

from jupyter_hub_api.errors import UsageError
from jupyter_hub_api.project.config import load_config, runtime_defaults, validate_config
from jupyter_hub_api.project.names import check_api_name, check_name, safe_name


@pytest.mark.parametrize("name", ["a", "sentiment-analyser", "x1", "a" * 63, "iris-2"])
def test_valid_names_are_accepted(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name, suggestion",
    [
        ("My_Model", "my-model"),
        ("1model", "model"),
        ("", None),
        ("a" * 64, "a" * 63),
        ("-lead", "lead"),
        ("has space", "has-space"),
        ("../escape", "escape"),
        ("ünïcode", "n-code"),
    ],
)
def test_invalid_names_are_refused_with_the_rule_and_a_suggestion(name, suggestion):
    with pytest.raises(UsageError) as err:
        check_name(name)
    message = str(err.value)
    assert "lower-case letters, digits and '-'" in message
    assert err.value.exit_code == 2
    if suggestion:
        assert repr(suggestion) in message


def test_a_minimal_config_of_the_hosted_guide_gets_every_default():
    config = validate_config({"name": "sentiment-analyser", "version": "0.0.1"}, "3.11")
    assert config["python"] == "3.11"
    assert config["runtime"] == runtime_defaults()
    assert config["runtime"]["idle_seconds"] > 0 and config["runtime"]["min_workers"] == 0


def test_numeric_versions_and_unknown_top_level_fields_are_tolerated():
    config = validate_config({"name": "x", "version": 1.0, "author": "someone"})
    assert config["version"] == "1.0"
    assert config["author"] == "someone"


def test_partial_runtime_is_completed_with_defaults():
    config = validate_config({"name": "x", "version": "1", "runtime": {"max_workers": 4}})
    assert config["runtime"]["max_workers"] == 4
    assert config["runtime"]["timeout_seconds"] == runtime_defaults()["timeout_seconds"]


@pytest.mark.parametrize(
    "data, field, words",
    [
        ({"version": "1"}, "name", ['add "name"']),
        ({"name": "Bad Name", "version": "1"}, "name", ["letters, digits", '"bad-name"']),
        ({"project": "a/b", "version": "1"}, "project", ["not a valid API name"]),
        ({"name": "x"}, "version", ['add "version"']),
        ({"name": "x", "version": "1", "base_packages": "no"}, "base_packages", ["boolean"]),
        ({"name": "x", "version": "1", "python": "3"}, "python", ['"3.11"']),
        (
            {"name": "x", "version": "1", "runtime": {"max_workers": 0}},
            "runtime.max_workers",
            ["at least 1"],
        ),
        (
            {"name": "x", "version": "1", "runtime": {"timeout_seconds": "60"}},
            "runtime.timeout_seconds",
            ["must be a number"],
        ),
        (
            {"name": "x", "version": "1", "runtime": {"timeout_second": 5}},
            "runtime.timeout_second",
            ["did you mean 'timeout_seconds'"],
        ),
        (
            {"name": "x", "version": "1", "runtime": {"min_workers": 3, "max_workers": 2}},
            "runtime.min_workers",
            ["at most max_workers"],
        ),
        ([1, 2], "(the whole file)", ["must be an object"]),
    ],
)
def test_a_broken_config_names_the_field_and_the_fix(data, field, words):
    with pytest.raises(UsageError) as err:
        validate_config(data)
    assert err.value.field == field
    assert err.value.exit_code == 2
    for word in words:
        assert word in str(err.value)
    assert "Fix" in str(err.value) or "Set" in str(err.value)


def test_invalid_json_is_reported_with_its_line(tmp_path):
    (tmp_path / "hub_config.json").write_text('{\n  "name": "x"\n  "version": "1"\n}')
    with pytest.raises(UsageError, match="line 3"):
        load_config(tmp_path)


def test_a_missing_config_means_not_a_project(tmp_path):
    with pytest.raises(UsageError) as err:
        load_config(tmp_path)
    assert err.value.type == "not_a_project"


def test_the_schema_ships_inside_the_package_and_is_valid_json_schema():
    import jsonschema

    from jupyter_hub_api.project.config import schema

    jsonschema.Draft7Validator.check_schema(schema())
    # the defaults themselves must validate
    validate_config(
        json.loads(json.dumps({"name": "x", "version": "1", "runtime": runtime_defaults()}))
    )


@pytest.mark.parametrize("name", ["Digit_Recognizer", "clip_zero_shot", "CLIP", "2021-model"])
def test_names_that_hosted_projects_have_are_accepted_with_a_safe_form_beside_them(name):
    assert check_api_name(name) == name
    assert validate_config({"name": name, "version": "1.0"})["name"] == name
    assert check_name(safe_name(name)) == safe_name(name)  # the strict form, for image tags
    with pytest.raises(UsageError):
        check_name(name)  # a *new* project is still given the strict form


def test_the_hosted_services_config_is_valid_as_it_is(tmp_path):
    (tmp_path / "hub_config.json").write_text('{"project": "transcript_search", "version": "1.0"}')
    config = load_config(tmp_path, default_python="3.11")
    assert config["name"] == "transcript_search"
    assert config["version"] == "1.0"
    assert config["base_packages"] is True


@pytest.mark.parametrize("version", ["1.0", "v2 (beta), 2021-06", "", 3])
def test_a_version_is_any_label(version):
    assert validate_config({"name": "x", "version": version})["version"] == str(version)


@pytest.mark.parametrize(
    "folder, fix",
    [("digit-recognizer", '"digit-recognizer"'), ("My Model (copy)", '"my-model-copy"')],
)
def test_a_missing_name_suggests_the_projects_own_folder(tmp_path, folder, fix):
    project = tmp_path / folder
    project.mkdir()
    (project / "hub_config.json").write_text('{"version": "1.0"}')
    with pytest.raises(UsageError) as err:
        load_config(project)
    assert err.value.field == "name"
    assert f'add "name": {fix}' in str(err.value)
    assert "sentiment-analyser" not in str(err.value)


def test_base_packages_can_be_turned_off():
    assert (
        validate_config({"name": "x", "version": "1", "base_packages": False})["base_packages"]
        is False
    )
