"""Engines run deployed API versions in workers; the platform talks to them through
:class:`~jupyter_hub_api.platform.engines.base.Engine` only.

``local`` (the default) runs each version in worker processes on this machine; ``ray`` runs
each version as a Ray Serve application on a Ray cluster (the ``ray`` extra).
"""

from __future__ import annotations

from .base import Engine, InvocationResult, UnknownVersionError, VersionSpec

__all__ = ["Engine", "InvocationResult", "UnknownVersionError", "VersionSpec", "create_engine"]


def create_engine(name: str = "local", **options) -> Engine:
    """The engine called ``name`` (``"local"`` or ``"ray"``), built with ``options``."""
    if name == "local":
        from .local import LocalEngine

        return LocalEngine(**options)
    if name == "ray":
        from .ray import RayEngine  # imports Ray only when started

        try:
            import ray.serve  # noqa: F401 - the extra, imported here to say what is missing
        except ImportError as exc:  # pragma: no cover - depends on the extra being installed
            from jupyter_hub_api.errors import UsageError

            raise UsageError(
                f"The ray engine needs Ray Serve, which is not installed here ({exc}).",
                type="bad_engine",
                hint='Install it with pip install "jupyter-hub-api[ray]".',
            ) from exc
        return RayEngine(**options)
    from jupyter_hub_api.errors import UsageError

    raise UsageError(
        f"Unknown engine {name!r}; the engines available are: local, ray.", type="bad_engine"
    )
