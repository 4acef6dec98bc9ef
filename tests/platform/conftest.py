"""Fixtures of the platform tests: the real platform process on a free loopback port.

Each test module that needs a platform gets its own (module scope: starting one takes about a
second), with its own data directory and, where the module needs it, its own plan config. APIs
are deployed from real projects with the real CLI (``hub build --deploy --json``).
"""

from __future__ import annotations

import pytest
from platform_helpers import PlatformProcess, start_platform


@pytest.fixture(scope="session")
def launch_platform(tmp_path_factory):
    """``launch_platform(config=None, user="alice")`` starts a platform; all stop at the end."""
    started: list[PlatformProcess] = []

    def launch(config: dict | None = None, user: str = "alice") -> PlatformProcess:
        proc = start_platform(tmp_path_factory, config, user)
        started.append(proc)
        return proc

    yield launch
    for proc in started:
        proc.stop()


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """A platform without call limits (the functional tests call fast and often).

    Shared by the tests of a module, so it has no monthly quota and no rate limit: no test's
    calls can make another's fail. A test of limits starts a platform of its own.
    """
    config = {
        "plans": {"free": {"rate_limit_per_second": 0, "monthly_calls": None, "max_apis": None}}
    }
    proc = start_platform(tmp_path_factory, config)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def behaviour_api(platform):
    """An API of the behaviour handler, with a short timeout; returns (endpoint, key)."""
    project = platform.make_project("behave", runtime={"timeout_seconds": 2, "max_workers": 2})
    result = platform.deploy(project)
    return result["endpoint"], platform.key()


# -- the database backends (postgres helper) --------------------------------------------------
@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster for the session (tests/postgres_cluster.py)."""
    from postgres_cluster import postgres_cluster

    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """What :class:`Database` opens, once per backend: a SQLite file in the test's folder, or a
    fresh database of the session's PostgreSQL cluster (a ``postgresql://`` URL)."""
    if request.param == "sqlite":
        yield str(tmp_path / "platform.db")
        return
    cluster = request.getfixturevalue("postgres")
    url = cluster.new_database()
    yield url
    cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def platform_database(request):
    """The platform config's ``database`` section, once per backend: none (the platform's own
    SQLite file), and a fresh database of the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        yield None
        return
    cluster = request.getfixturevalue("postgres")
    url = cluster.new_database()
    yield {"url": url}
    cluster.drop_database(url)
