"""The server extension's job database lives under HUB_HOME, so two servers with different data
directories never share their jobs (it used to live in the Jupyter data directory)."""

from __future__ import annotations

from jupyter_hub_api.server.app import HubAPIApp


def test_jobs_live_under_each_hub_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "one"))
    first = HubAPIApp().jobs_dir
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "two"))
    second = HubAPIApp().jobs_dir
    assert first == str(tmp_path / "one" / "jobs")
    assert second == str(tmp_path / "two" / "jobs")
