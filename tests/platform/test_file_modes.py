"""What the platform keeps on disk is its user's alone: the database and its WAL (invocation
inputs and outputs), the log, the config, the token and key files 0600, every folder 0700."""

from __future__ import annotations

import json
import stat

import requests
from platform_helpers import PlatformProcess


def mode(path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_running_platform_keeps_its_files_0600_and_folders_0700(tmp_path):
    proc = PlatformProcess(tmp_path)
    state = tmp_path / "platform"
    state.mkdir()
    config = state / "config.json"
    config.write_text(json.dumps({"plans": {"free": {"rate_limit_per_second": 0}}}))
    config.chmod(0o644)  # as an editor would leave it
    try:
        # Started the way the CLI starts it (which creates platform.log), then used.
        proc.hub("platform", "start", check=True)
        endpoint = proc.deploy(proc.make_project("private"))["endpoint"]
        h = {"x-api-key": proc.key(), "Content-Type": "application/json"}
        for i in range(5):
            assert requests.post(endpoint, headers=h, data=json.dumps(i), timeout=60).ok
        proc.hub("logs", "private", check=True)

        names = {p.name for p in state.iterdir()}
        assert {"platform.db", "platform.db-wal", "platform.db-shm", "platform.log"} <= names
        assert {"config.json", "token", "secret.key", "platform.json"} <= names
        assert mode(state) == 0o700
        for path in state.iterdir():
            expected = 0o700 if path.is_dir() else 0o600
            assert mode(path) == expected, f"{path.name} is {oct(mode(path))}"
        # Inside versions/ the files are hard links to the shared read-only blobs (0444); the
        # folders are the platform's own. (A worker's scratch is the worker's, under workers/.)
        for path in (state / "versions").rglob("*"):
            if path.is_dir() and not path.is_symlink():
                assert mode(path) & 0o077 == 0, f"{path} is {oct(mode(path))}"
    finally:
        proc.hub("platform", "stop")
