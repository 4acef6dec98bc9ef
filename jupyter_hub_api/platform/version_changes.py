"""What changed from one version of an API to the next: the panel's "Changes" column.

Every version keeps its build record (``versions.record``: the code and model manifests with a
sha256 per file, the environment's key and requirements, the completed ``hub_config.json``),
so the difference of two versions is the difference of their records; nothing is read from
the blob store or the project.
"""

from __future__ import annotations

from typing import Any

#: The runtime settings the panel shows and may change (runtime_update.py).
EDITABLE = (
    "min_workers",
    "max_workers",
    "idle_seconds",
    "timeout_seconds",
    "async_timeout_seconds",
    "memory_mb",
)

#: Files named at most; beyond that the rest is counted ("and 3 more files").
MAX_NAMED = 4


def _files(record: dict[str, Any]) -> dict[str, str]:
    """``{path: sha256}`` of the version's code (under ``src/``) and model (under ``model/``)."""
    out = {}
    for section, prefix in (("code", "src/"), ("model", "model/")):
        for entry in record.get(section) or []:
            # The manifests' paths are relative to src/ and to model/.
            out[prefix + str(entry.get("path", ""))] = str(entry.get("sha256", ""))
    return out


def describe_changes(record: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
    """Short phrases of what ``record`` changed from ``previous`` (None: the first version).

    ``["first version"]``; else e.g. ``["src/main.py changed", "model/model.joblib added",
    "requirements changed", "settings changed"]``; ``["nothing changed"]`` when the two records
    only differ in their build times.
    """
    if previous is None:
        return ["first version"]
    new, old = _files(record), _files(previous)
    phrases = []
    for path in sorted(set(new) | set(old)):
        if path not in old:
            phrases.append(f"{path} added")
        elif path not in new:
            phrases.append(f"{path} removed")
        elif new[path] != old[path]:
            phrases.append(f"{path} changed")
    if len(phrases) > MAX_NAMED:
        rest = len(phrases) - MAX_NAMED + 1
        phrases = phrases[: MAX_NAMED - 1] + [f"and {rest} more files"]
    env, old_env = record.get("environment") or {}, previous.get("environment") or {}
    if env.get("python") != old_env.get("python"):
        phrases.append(f"Python {old_env.get('python')} → {env.get('python')}")
    elif env.get("requirements") != old_env.get("requirements") and not any(
        p.startswith("src/requirements.txt") for p in phrases
    ):
        phrases.append("requirements changed")
    config, old_config = dict(record.get("config") or {}), dict(previous.get("config") or {})
    if config.get("version") != old_config.get("version"):
        phrases.append(f"label {old_config.get('version')} → {config.get('version')}")
    config.pop("version", None)
    old_config.pop("version", None)
    if config != old_config:
        phrases.append("settings changed")
    return phrases or ["nothing changed"]


def runtime_settings(runtime: Any) -> dict[str, float | int]:
    """The editable settings of a version as it runs (its own over the platform's defaults)."""
    return {name: getattr(runtime, name) for name in EDITABLE}
