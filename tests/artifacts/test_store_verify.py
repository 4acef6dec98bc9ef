"""A blob changed in place (a handler wrote into MODEL_DIR as root, before the sandbox) is found
by the next build and stored again from the project; ``hub store verify`` reports such blobs and
``--repair`` fixes them. Real builds, the real ``hub`` CLI.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from jupyter_hub_api import paths
from jupyter_hub_api.artifacts.blobstore import BlobStore
from jupyter_hub_api.artifacts.builder import run_build
from jupyter_hub_api.cli.output import Output
from jupyter_hub_api.project.scaffold import init_project

HUB = str(Path(sys.executable).with_name("hub"))
WEIGHTS = os.urandom(200_000)


def _project(tmp_path) -> Path:
    init_project("tampered", "blank", parent=tmp_path)
    project = tmp_path / "tampered"
    (project / "model" / "weights.bin").write_bytes(WEIGHTS)
    hour_ago = os.stat(project).st_mtime - 3600  # old enough for the stat cache to keep
    for path in project.rglob("*"):
        if path.is_file():
            os.utime(path, (hour_ago, hour_ago))
    return project


def _build(project) -> dict:
    return run_build(project, Output(json_mode=True, stream=io.StringIO()))


def _weights_blob(result) -> Path:
    (entry,) = [e for e in result["record"]["model"] if e["path"] == "weights.bin"]
    return BlobStore(paths.blobs_dir()).path(entry["sha256"])


def _tamper(blob: Path) -> None:
    os.chmod(blob, 0o644)
    with open(blob, "r+b") as fh:
        fh.write(b"tampered")
    os.chmod(blob, 0o444)


def _hub(*args, cwd):
    return subprocess.run([HUB, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_blob_tampered_from_outside_is_stored_again_by_the_next_build(tmp_path):
    project = _project(tmp_path)
    first = _build(project)
    blob = _weights_blob(first)
    _tamper(blob)
    second = _build(project)
    assert second["build_id"] == first["build_id"]
    assert second["model_bytes_written"] == len(WEIGHTS)  # copied again, not reused
    assert blob.read_bytes() == WEIGHTS
    third = _build(project)
    assert third["model_bytes_written"] == 0 and third["files_hashed"] == 0


def test_hub_store_verify_reports_and_repair_fixes(tmp_path):
    project = _project(tmp_path)
    blob = _weights_blob(_build(project))
    assert _hub("store", "verify", cwd=tmp_path).returncode == 0
    _tamper(blob)

    report = _hub("store", "verify", cwd=tmp_path)
    assert report.returncode == 1
    assert "1 of " in report.stderr and "no longer match their digests" in report.stderr
    assert "hub store verify --repair" in report.stderr
    assert blob.read_bytes().startswith(b"tampered")  # reporting changes nothing

    repaired = _hub("store", "verify", "--repair", "--json", cwd=project)
    assert repaired.returncode == 0, repaired.stderr
    events = [json.loads(line) for line in repaired.stdout.splitlines()]
    result = events[-1]
    assert result["event"] == "result"
    assert result["damaged"] == result["repaired"] == [blob.parent.name + blob.name]
    assert result["removed"] == []
    assert blob.read_bytes() == WEIGHTS
    assert _hub("store", "verify", cwd=tmp_path).returncode == 0


def test_a_damaged_blob_no_project_has_is_removed_so_a_build_stores_it_again(tmp_path):
    project = _project(tmp_path)
    result = _build(project)
    blob = _weights_blob(result)
    _tamper(blob)
    repaired = _hub("store", "verify", "--repair", cwd=tmp_path)  # no project here
    assert repaired.returncode == 0, repaired.stderr
    assert "1 no given project has were removed" in repaired.stdout
    assert not blob.exists()
    assert _build(project)["model_bytes_written"] == len(WEIGHTS)
    assert blob.read_bytes() == WEIGHTS


def test_a_folder_that_is_not_a_project_is_refused(tmp_path):
    refused = _hub("store", "verify", "--repair", "-p", str(tmp_path), cwd=tmp_path)
    assert refused.returncode == 2
    assert "is not a Hub API project" in refused.stderr
