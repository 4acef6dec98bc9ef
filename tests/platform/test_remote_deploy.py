"""Deploying to a platform that does not share the build's blob store: only missing blobs travel,
each verified by hash and size."""

from __future__ import annotations

import hashlib
import json

import requests
from platform_helpers import build_record


def test_remote_deploy_uploads_the_missing_blobs_and_serves(launch_platform, tmp_path):
    proc = launch_platform({"plans": {"free": {"rate_limit_per_second": 0}}})
    project = proc.make_project("remote", model_files={"weights.bin": b"\x00\x01" * 5000})
    out = proc.hub_elsewhere(tmp_path / "client-home", "build", "--deploy", "--json", cwd=project)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert any(e["event"] == "log" and "Uploaded 3 file(s)" in e["line"] for e in events), events
    endpoint = [e for e in events if e["event"] == "result"][-1]["deploy"]["endpoint"]
    h = {"x-api-key": proc.key(), "Content-Type": "application/json"}
    assert (
        requests.post(endpoint, headers=h, data='"far away"', timeout=60).json()["body"]["output"]
        == "far away"
    )
    # A second deploy of the same build sends nothing.
    again = proc.hub_elsewhere(tmp_path / "client-home", "deploy", "--json", cwd=project)
    assert "already has every file" in again.stdout


def test_blob_uploads_are_checked(launch_platform):
    proc = launch_platform()
    data = b"model bytes" * 100
    sha = hashlib.sha256(data).hexdigest()
    record = build_record("checked", model=[{"path": "w.bin", "sha256": sha, "size": len(data)}])
    created = proc.control("POST", "/api/v1/deployments", json={"record": record})
    assert created.status_code == 201
    assert set(created.json()["missing"]) == {sha, "cd" * 32}

    not_listed = proc.control("PUT", "/api/v1/blobs/" + "ef" * 32, content=b"x")
    assert not_listed.status_code == 409
    wrong = proc.control("PUT", f"/api/v1/blobs/{sha}", content=b"y" * len(data))
    assert wrong.status_code == 400 and wrong.json()["error"]["type"] == "digest_mismatch"
    too_big = proc.control("PUT", f"/api/v1/blobs/{sha}", content=data + b"extra")
    assert too_big.status_code == 413
    ok = proc.control("PUT", f"/api/v1/blobs/{sha}", content=data)
    assert ok.status_code == 201
    assert (proc.home / "blobs" / "sha256" / sha[:2] / sha[2:]).read_bytes() == data
    # Committing with a blob still missing is refused with what to do.
    dep_id = created.json()["deployment"]["id"]
    commit = proc.control("POST", f"/api/v1/deployments/{dep_id}/commit")
    assert commit.status_code == 400 and commit.json()["error"]["type"] == "missing_blob"


def test_a_record_with_a_path_outside_its_folder_is_refused(launch_platform):
    proc = launch_platform()
    record = build_record(
        "evil", model=[{"path": "../../etc/passwd", "sha256": "cd" * 32, "size": 1}]
    )
    resp = proc.control("POST", "/api/v1/deployments", json={"record": record})
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "bad_record"
