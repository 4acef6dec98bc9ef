"""Where things live on disk: one data directory, ``HUB_HOME``.

Layout (see ARCHITECTURE.md)::

    $HUB_HOME/
      blobs/sha256/ab/cdef...   content-addressed store, shared by `hub build` and the platform
      envs/<env-key>/           Python environments of the APIs, keyed by what determines them
      builds/<build-id>.json    immutable build records
      platform/                 the embedded platform's own state (SQLite, token, logs, versions)
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import platformdirs

DEFAULT_PLATFORM_PORT = 8470


def hub_home() -> Path:
    """The data directory: ``$HUB_HOME`` or the OS's per-user data directory."""
    env = os.environ.get("HUB_HOME")
    path = Path(env).expanduser() if env else Path(platformdirs.user_data_dir("hub-api"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def blobs_dir() -> Path:
    """Root of the content-addressed blob store."""
    return hub_home() / "blobs"


def envs_dir() -> Path:
    """Root of the cached Python environments."""
    return hub_home() / "envs"


def builds_dir() -> Path:
    """Where immutable build records are kept."""
    return hub_home() / "builds"


def platform_dir() -> Path:
    """The embedded platform's state directory."""
    return hub_home() / "platform"


def platform_url() -> str:
    """The platform's base URL: ``$HUB_PLATFORM_URL`` or the embedded default on loopback."""
    return os.environ.get("HUB_PLATFORM_URL", f"http://127.0.0.1:{DEFAULT_PLATFORM_PORT}").rstrip(
        "/"
    )


def username() -> str:
    """The local user's name on the platform: ``$JUPYTERHUB_USER``, else the OS user."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
