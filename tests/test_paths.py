"""Where the product keeps its data and finds its platform."""

import os

from jupyter_hub_api import paths


def test_hub_home_comes_from_the_environment(hub_home):
    assert paths.hub_home() == hub_home
    assert paths.blobs_dir() == hub_home / "blobs"


def test_platform_url_default_is_loopback_8470_for_a_single_user(monkeypatch):
    monkeypatch.delenv("HUB_PLATFORM_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    assert paths.platform_url() == "http://127.0.0.1:8470"


def test_platform_url_from_the_environment_drops_a_trailing_slash(monkeypatch):
    monkeypatch.setenv("HUB_PLATFORM_URL", "http://127.0.0.1:9999/")
    assert paths.platform_url() == "http://127.0.0.1:9999"


def test_under_jupyterhub_the_port_follows_the_uid(monkeypatch):
    monkeypatch.delenv("HUB_PLATFORM_URL", raising=False)
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    monkeypatch.setattr(os, "getuid", lambda: 1001)
    assert paths.default_platform_port() == 21001
    monkeypatch.setattr(os, "getuid", lambda: 1002)
    assert paths.default_platform_port() == 21002


def test_username_prefers_the_jupyterhub_user(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    assert paths.username() == "alice"
