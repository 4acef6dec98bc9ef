"""Engines run deployed API versions in workers; the platform talks to them through
:class:`~jupyter_hub_api.platform.engines.base.Engine` only.

``local`` (the default) runs each version in worker processes on this machine.
"""

from __future__ import annotations

from .base import Engine, InvocationResult, UnknownVersionError, VersionSpec

__all__ = ["Engine", "InvocationResult", "UnknownVersionError", "VersionSpec", "create_engine"]


def create_engine(name: str = "local", **options) -> Engine:
    """The engine called ``name`` (``"local"``), built with ``options``."""
    if name == "local":
        from .local import LocalEngine

        return LocalEngine(**options)
    from jupyter_hub_api.errors import UsageError

    raise UsageError(
        f"Unknown engine {name!r}; the engines available are: local.", type="bad_engine"
    )
