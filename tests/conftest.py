"""Fixtures shared by every Python test.

pytest only honours ``pytest_plugins`` in the top-level conftest, so the Jupyter server
fixtures (``jp_fetch``, ``jp_ws_fetch``, ``jp_serverapp``, ``jp_root_dir``...) are enabled here
for every folder under ``tests/``.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture(autouse=True)
def hub_home(tmp_path_factory, monkeypatch):
    """Every test gets its own data directory, never the user's real one.

    Set in the environment so the ``hub`` subprocesses a test starts inherit it.
    """
    home = tmp_path_factory.mktemp("hub-home")
    monkeypatch.setenv("HUB_HOME", str(home))
    return home
