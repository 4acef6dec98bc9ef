"""Hub API for JupyterLab: turn a trained model into a live REST inference API.

This package holds every Python part of the product, one subpackage each:
``server`` (the Jupyter Server extension), ``cli`` (the ``hub`` command), ``project``
(scaffolding and validation), ``notebook`` (``deploy()`` from a kernel), ``build`` (blob store,
environments, build records), ``platform`` (control plane, gateway and engines) and ``client`` (HTTP client of the platform).
The worker runtime is the top-level ``hub`` package.
"""

try:
    from ._version import __version__
except ImportError:  # pragma: no cover - only before the first build
    import warnings

    warnings.warn("Importing 'jupyter_hub_api' outside a proper installation.", stacklevel=2)
    __version__ = "dev"


# The kernel API (notebook/): `import jupyter_hub_api as hub; hub.deploy(model, predict, name=...)`.
# Loaded on first use: importing the package (the server extension, the CLI) stays cheap.
_NOTEBOOK_API = ("deploy", "Deployment", "DeployError")


def __getattr__(name: str):
    if name in _NOTEBOOK_API:
        from . import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyter-hub-api"}]


def _jupyter_server_extension_points():
    # The extension is an ExtensionApp (server/app.py): configurable with traitlets
    # (c.HubAPIApp...) and stopped cleanly, with its running jobs, when the server stops.
    from .server.app import HubAPIApp

    return [{"module": "jupyter_hub_api", "app": HubAPIApp}]
