"""The platform: control plane (``/api/v1``), gateway (``/<user>/<api>``), state and engines.

Start it with ``python -m jupyter_hub_api.platform`` (the CLI does so on demand); the pieces:
``app.py`` (ASGI factory), ``gateway.py`` (data plane), ``control.py`` (REST), ``deploy.py``
(deployments, rollback, delete), ``service.py`` (shared state), ``db.py`` (SQLite),
``keys.py``, ``quotas.py``, ``usage.py``, ``logsink.py``, ``config.py``, ``server.py``.
"""
