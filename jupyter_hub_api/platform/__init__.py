"""The platform: control plane (``/api/v1``), gateway (``/<user>/<api>``), state and engines.

Start it with ``python -m jupyter_hub_api.platform`` (the CLI does so on demand); the pieces:
``app.py`` (ASGI factory), ``gateway.py`` (data plane), ``control.py`` (REST operations, run by
``operations.py``, their models in ``schemas.py``, their document made by ``openapi.py``), ``deploy.py``
(deployments, rollback, delete), ``service.py`` (shared state), ``db.py`` (SQLite, its one writer thread),
``keys.py``, ``quotas.py``, ``logsink.py``, ``config.py``, ``server.py``; ``store/`` holds every
SQL statement (repositories, migrations), ``models.py`` the typed records.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .. import paths


def instance_id(state_dir: Path | None = None) -> str:
    """A short digest naming one data directory (the platform reports its own in /healthz)."""
    state_dir = Path(state_dir or paths.platform_dir()).resolve()
    return hashlib.sha256(str(state_dir).encode()).hexdigest()[:16]
