"""A blob upload that fills the platform's disk: 507 and one sentence, nothing half-written kept.

The blob store is a real 2 MiB tmpfs mounted on the platform's ``$HUB_HOME/blobs`` (root only),
and a remote deploy (its own HUB_HOME, so every file travels) sends a 3 MiB model file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest
import requests
from platform_helpers import PlatformProcess, build_record

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("mount"),
    reason="mounting a small tmpfs as the blob store needs root",
)


@pytest.fixture
def small_disk(tmp_path):
    blobs = tmp_path / "platform-home" / "blobs"
    blobs.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(blobs)], check=True)
    yield tmp_path / "platform-home"
    subprocess.run(["umount", "-l", str(blobs)], check=False)


def test_a_full_disk_during_an_upload_is_507_in_one_sentence(small_disk, tmp_path):
    proc = PlatformProcess(small_disk, {"plans": {"free": {"rate_limit_per_second": 0}}}).start()
    try:
        project = proc.make_project("heavy", model_files={"weights.bin": os.urandom(3 * 2**20)})
        out = proc.hub_elsewhere(
            tmp_path / "client-home", "build", "--deploy", "--json", cwd=project
        )
        assert out.returncode == 1, out.stdout + out.stderr
        errors = [
            event for event in map(json.loads, out.stdout.splitlines()) if event["event"] == "error"
        ]
        assert errors and errors[-1]["type"] == "insufficient_storage", out.stdout
        assert "disk is full" in errors[-1]["message"] and "Free space" in errors[-1]["message"]
        assert "Traceback" not in out.stdout + out.stderr
        # Nothing half-written is kept, and the platform goes on serving.
        assert not any((small_disk / "blobs" / "tmp").iterdir())
        assert requests.get(f"{proc.url}/healthz", timeout=10).status_code == 200
        assert "Traceback" not in (small_disk / "test-platform.log").read_text()
    finally:
        proc.stop()


def test_the_507_answer_of_the_blob_route(small_disk):
    proc = PlatformProcess(small_disk).start()
    try:
        data = os.urandom(3 * 2**20)
        sha = hashlib.sha256(data).hexdigest()
        record = build_record("heavy", model=[{"path": "w.bin", "sha256": sha, "size": len(data)}])
        assert (
            proc.control("POST", "/api/v1/deployments", json={"record": record}).status_code == 201
        )
        resp = proc.control("PUT", f"/api/v1/blobs/{sha}", content=data)
        assert resp.status_code == 507, resp.text
        error = resp.json()["error"]
        assert error["type"] == "insufficient_storage" and "disk is full" in error["message"]
    finally:
        proc.stop()
