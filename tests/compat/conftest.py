"""Projects and clients written for the hosted service, run unchanged against a real platform.

The platform is the one the platform tests start (``tests/platform/platform_helpers.py``, reused,
not copied): a real process on a free loopback port with its own data directory. Projects are
written by hand, as their authors wrote them for the hosted service, and built and deployed with
the real ``hub`` CLI; clients are the hosted guide's ``requests`` code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from platform_helpers import PlatformProcess, start_platform  # noqa: E402

__all__ = ["PlatformProcess"]


@pytest.fixture(scope="module")
def hosted_platform(tmp_path_factory) -> PlatformProcess:
    """A platform for one test module, without call limits (its tests call often)."""
    config = {
        "plans": {"free": {"rate_limit_per_second": 0, "monthly_calls": None, "max_apis": None}}
    }
    proc = start_platform(tmp_path_factory, config)
    yield proc
    proc.stop()
