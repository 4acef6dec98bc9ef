"""The runtime defaults have one home (jupyter_hub_api/runtime_defaults.py) and one set of names:
the schema of hub_config.json, hub init, the platform's config and the engines agree with it."""

from __future__ import annotations

import dataclasses
import json

import pytest

from jupyter_hub_api.platform.config import parse_config
from jupyter_hub_api.platform.engines import VersionSpec
from jupyter_hub_api.project.config import runtime_defaults, schema, validate_config
from jupyter_hub_api.runtime_defaults import RUNTIME_DEFAULTS, Runtime

FIELDS = {f.name for f in dataclasses.fields(Runtime)}


def test_the_schema_declares_the_same_fields_and_defaults():
    props = schema()["properties"]["runtime"]["properties"]
    assert set(props) == FIELDS
    for name, spec in props.items():
        if name in Runtime.PLATFORM_DECIDES:
            # Absent from a project's config, the platform's config decides; the schema says
            # what the embedded platform's default is.
            assert "default" not in spec
            assert str(getattr(RUNTIME_DEFAULTS, name)) in spec["description"]
        elif name in Runtime.OPTIONAL:  # no default: absent unless the project sets it
            assert "default" not in spec and getattr(RUNTIME_DEFAULTS, name) is None
        else:
            assert spec["default"] == getattr(RUNTIME_DEFAULTS, name), name


def test_hub_init_and_a_config_without_runtime_get_the_defaults():
    assert runtime_defaults() == RUNTIME_DEFAULTS.config_section()
    assert json.loads(json.dumps(runtime_defaults())) == runtime_defaults()  # plain JSON
    assert "memory_mb" not in runtime_defaults()
    config = validate_config({"project": "hosted", "version": "1.0"})  # the hosted service's
    assert config["runtime"] == runtime_defaults()


def test_the_engines_spec_defaults_are_the_same():
    spec = VersionSpec("v", "alice/api", "src", "model", "python")
    options = RUNTIME_DEFAULTS.engine_options()
    assert {name: getattr(spec, name) for name in options} == options


@pytest.mark.parametrize("key", ["idle_seconds", "idle_timeout_seconds"])
def test_the_platform_config_uses_the_same_names_and_still_reads_the_old_one(key):
    assert parse_config({}).engine.runtime == RUNTIME_DEFAULTS
    engine = parse_config({"engine": {key: 5, "max_workers": 3}}).engine
    assert engine.runtime == dataclasses.replace(RUNTIME_DEFAULTS, idle_seconds=5.0, max_workers=3)


def test_a_version_takes_its_own_runtime_over_the_platforms_defaults():
    platform = parse_config({"engine": {"timeout_seconds": 5, "memory_mb": 1024}}).engine.runtime
    runtime = platform.updated({"timeout_seconds": 2, "env": {"A": 1}, "unknown": True})
    assert (runtime.timeout_seconds, runtime.memory_mb, runtime.env) == (2.0, 1024, {"A": "1"})
    assert runtime.max_workers == RUNTIME_DEFAULTS.max_workers
    assert platform.updated({}) is platform
