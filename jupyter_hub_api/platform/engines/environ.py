"""The environment a worker process starts with.

The platform's own environment must not leak into a worker: its Python path would expose the
product's dependencies, and its secrets are not the handler's business.

The thread pools of the numeric libraries (OpenMP, OpenBLAS, MKL, Accelerate, numexpr) are sized
to the worker's ``runtime.cpus`` (default 1) unless the project's ``env`` or the platform's own
environment sets them, as Ray Serve does for its replicas. By default each library starts a
thread per core, so N workers would run N times the cores' threads against each other; and
OpenBLAS starts its threads when numpy is imported, which makes every numpy or scikit-learn
handler unfit to fork (``hub/_template.py``), so each further worker would import it all again.
"""

from __future__ import annotations

import os
import re

from .base import VersionSpec

__all__ = ["THREAD_POOL_ENV", "worker_environment"]

_DROPPED_ENV = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH"}
THREAD_POOL_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_SECRET_ENV = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|CREDENTIAL|PRIVATE", re.IGNORECASE)


def worker_environment(spec: VersionSpec) -> dict[str, str]:
    """The environment of a worker: the platform's minus Python paths, ``HUB_*`` and secrets,
    plus ``spec.env``, ``MODEL_DIR``, ``HUB_API`` and the thread pools' sizes not set already."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _DROPPED_ENV and not _SECRET_ENV.search(key) and not key.startswith("HUB_")
    }
    env.update(spec.env)
    threads = str(max(1, int(spec.cpus)))
    for key in THREAD_POOL_ENV:
        env.setdefault(key, threads)
    env["MODEL_DIR"] = str(spec.model_dir)
    env["HUB_API"] = spec.api
    env["PYTHONUNBUFFERED"] = "1"
    return env
