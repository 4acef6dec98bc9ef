"""The environment a worker process starts with.

The platform's own environment must not leak into a worker: its Python path would expose the
product's dependencies, and its secrets are not the handler's business.
"""

from __future__ import annotations

import os
import re

from .base import VersionSpec

__all__ = ["worker_environment"]

_DROPPED_ENV = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH"}
_SECRET_ENV = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|CREDENTIAL|PRIVATE", re.IGNORECASE)


def worker_environment(spec: VersionSpec) -> dict[str, str]:
    """The environment of a worker: the platform's minus Python paths, ``HUB_*`` and secrets,
    plus ``spec.env``, ``MODEL_DIR`` and ``HUB_API``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _DROPPED_ENV and not _SECRET_ENV.search(key) and not key.startswith("HUB_")
    }
    env.update(spec.env)
    env["MODEL_DIR"] = str(spec.model_dir)
    env["HUB_API"] = spec.api
    env["PYTHONUNBUFFERED"] = "1"
    return env
