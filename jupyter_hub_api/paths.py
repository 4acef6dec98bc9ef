"""Where things live on disk: one data directory, ``HUB_HOME``.

Layout (see ARCHITECTURE.md)::

    $HUB_HOME/
      blobs/sha256/ab/cdef...   content-addressed store, shared by `hub build` and the platform
      envs/<env-key>/           Python environments of the APIs, keyed by what determines them
      builds/<build-id>.json    immutable build records
      platform/                 the embedded platform's own state (SQLite, token, logs, versions)
      jobs/                     the server extension's jobs (jobs.db) and their event logs
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


def default_platform_port() -> int:
    """The embedded platform's port when ``HUB_PLATFORM_URL`` does not say.

    8470 on a machine with one user. Under JupyterHub several users share one machine, each
    with their own data directory and platform, so each gets a port of their own, derived
    from their uid (20000-29999), and nobody's platform answers for somebody else.
    """
    if os.environ.get("JUPYTERHUB_USER") and hasattr(os, "getuid") and os.getuid() != 0:
        return 20000 + os.getuid() % 10000
    return DEFAULT_PLATFORM_PORT


def platform_url() -> str:
    """The platform's base URL: ``$HUB_PLATFORM_URL`` or the embedded default on loopback."""
    url = os.environ.get("HUB_PLATFORM_URL") or f"http://127.0.0.1:{default_platform_port()}"
    return url.rstrip("/")


def username() -> str:
    """The local user's name on the platform: ``$JUPYTERHUB_USER``, else the OS user."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
