"""Load and validate ``hub_config.json`` against the JSON Schema shipped in this package.

Every command calls :func:`load_config`. A problem is reported with the field that is wrong
(``runtime.max_workers``) and what to write instead, taken from the schema's descriptions and
examples. Missing fields take their defaults, so a project of the hosted guide, whose config
holds little more than a name and a version, works unchanged; so does the hosted service's own
``{"project": "<name>", "version": "1.0"}``.
"""

from __future__ import annotations

import copy
import difflib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import UsageError
from ..runtime_defaults import RUNTIME_DEFAULTS
from .names import API_NAME_RE, API_NAME_RULE, suggest_name

CONFIG_FILE = "hub_config.json"


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema of ``hub_config.json`` (``project/hub_config.schema.json``)."""
    text = resources.files(__package__).joinpath("hub_config.schema.json").read_text()
    return json.loads(text)


def runtime_defaults() -> dict:
    """The default ``runtime`` settings (``runtime_defaults.py``; the schema declares the same)."""
    return RUNTIME_DEFAULTS.config_section()


def default_config(name: str, python: str, version: str = "0.1.0") -> dict:
    """The ``hub_config.json`` that ``hub init`` writes."""
    return {"name": name, "version": version, "python": python, "runtime": runtime_defaults()}


def load_config(project_dir: Path, default_python: str | None = None) -> dict:
    """Read, validate and complete the project's ``hub_config.json``.

    Returns the config with every default filled in (``python`` defaults to
    ``default_python``). Raises :class:`UsageError` naming the field and the fix.
    """
    path = Path(project_dir) / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"{path} does not exist.",
            type="not_a_project",
            hint="Run the command in the folder that holds hub_config.json.",
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(
            f"hub_config.json is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}).",
            type="bad_config",
            hint="Fix the JSON syntax, e.g. a missing comma or quote.",
        ) from None
    folder = Path(project_dir).resolve().name
    return validate_config(data, default_python=default_python, folder=folder)


def validate_config(
    data: object, default_python: str | None = None, folder: str | None = None
) -> dict:
    """Validate a parsed config; return it completed with defaults (see :func:`load_config`).

    ``name`` is taken from ``project`` when absent (the hosted service wrote
    ``{"project": ..., "version": "1.0"}``); ``folder``, the project folder's name, is what
    the fix suggests when neither is there.
    """
    import fastjsonschema

    config = copy.deepcopy(data)
    if isinstance(config, dict):
        config["name"] = _api_name(config, folder)
    try:
        _validator()(config)  # also fills in the schema's defaults
    except fastjsonschema.JsonSchemaValueException as err:
        raise _explain(err) from None
    config["version"] = str(config["version"])
    if default_python and "python" not in config:
        config["python"] = default_python
    runtime = {**runtime_defaults(), **config.get("runtime", {})}
    config["runtime"] = runtime
    if runtime["min_workers"] > runtime["max_workers"]:
        raise UsageError(
            f"hub_config.json: runtime.min_workers ({runtime['min_workers']}) is larger than "
            f"runtime.max_workers ({runtime['max_workers']}).",
            type="bad_config",
            field="runtime.min_workers",
            hint="Set min_workers to at most max_workers.",
        )
    return config


def _api_name(config: dict, folder: str | None) -> str:
    """``name``, else ``project``; a UsageError naming the field and a real fix otherwise."""
    field = "name" if "name" in config else "project" if "project" in config else None
    if field is None:
        guess = folder if folder and API_NAME_RE.match(folder) else suggest_name(folder or "")
        fix = f'add "name": {json.dumps(guess)}' if guess else f'add "name" ({API_NAME_RULE})'
        raise UsageError(
            "hub_config.json: name is missing.",
            type="bad_config",
            field="name",
            hint=f"Fix: {fix}.",
        )
    value = config[field]
    if isinstance(value, str) and API_NAME_RE.match(value):
        return value
    suggestion = suggest_name(value) if isinstance(value, str) else None
    example = f', e.g. "{suggestion}"' if suggestion else ""
    raise UsageError(
        f"hub_config.json: {field} {json.dumps(value)} is not a valid API name.",
        type="bad_config",
        field=field,
        hint=f"Fix: use {API_NAME_RULE}{example}.",
    )


@lru_cache(maxsize=1)
def _validator():
    # fastjsonschema compiles the schema to a function: ~5 ms once, then microseconds, and
    # imports in ~20 ms (jsonschema can take over a second to import with its format
    # extras installed, which every `hub build` would pay).
    import fastjsonschema

    return fastjsonschema.compile(schema())


def _explain(error) -> UsageError:
    """Turn a schema error into one sentence: the field, what is wrong, what to write."""
    path = [str(p) for p in error.path[1:]]  # error.path starts with "data"
    spec = error.definition if isinstance(error.definition, dict) else {}
    field = ".".join(path) or "(the whole file)"
    example = (spec.get("examples") or [None])[0]
    described = spec.get("description")
    fix = None
    if error.rule == "required":
        present = error.value if isinstance(error.value, dict) else {}
        missing = next((k for k in error.rule_definition if k not in present), "a field")
        field = ".".join([*path, missing])
        sub = spec.get("properties", {}).get(missing, {})
        example = (sub.get("examples") or [None])[0]
        problem = "is missing"
        fix = (
            f'add "{missing}": {json.dumps(example)}' if example is not None else f'add "{missing}"'
        )
    elif error.rule == "additionalProperties":
        known = sorted(spec.get("properties", {}))
        extra = [k for k in error.value if k not in known] if isinstance(error.value, dict) else []
        bad = extra[0] if extra else "?"
        field = ".".join([*path, bad])
        close = difflib.get_close_matches(bad, known, n=1)
        problem = "is not a known setting"
        fix = f"did you mean {close[0]!r}?" if close else f"known settings: {', '.join(known)}"
    elif error.rule == "type":
        expected = error.rule_definition
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        problem = f"must be {_article(expected)} {expected}, not {json.dumps(error.value)}"
    elif error.rule == "pattern":
        problem = f"has the value {json.dumps(error.value)}, which is not allowed"
    elif error.rule in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {
            "minimum": "at least",
            "exclusiveMinimum": "more than",
            "maximum": "at most",
            "exclusiveMaximum": "less than",
        }
        problem = f"must be {words[error.rule]} {error.rule_definition}, not {error.value}"
    else:
        problem = error.message.replace("data.", "", 1)
    if fix is None:
        fix = f"it is {described}" if described else "see the schema"
        if example is not None:
            fix += f", e.g. {json.dumps(example)}"
    return UsageError(
        f"hub_config.json: {field} {problem}.",
        type="bad_config",
        field=field,
        hint=f"Fix: {fix}.",
    )


def _article(word: str | None) -> str:
    return "an" if (word or "")[:1] in "aeiou" else "a"
