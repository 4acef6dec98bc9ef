"""Build records: content-derived ids, immutable files, last-build, and laying a build out."""

from __future__ import annotations

import json
import os

import pytest

from jupyter_hub_api import paths
from jupyter_hub_api.artifacts import records
from jupyter_hub_api.artifacts.blobstore import BlobStore
from jupyter_hub_api.errors import WorkError


def make(store, code_text=b"print(1)\n", model_bytes=b"weights"):
    code = [{"path": "main.py", "sha256": store.put_bytes(code_text), "size": len(code_text)}]
    model = [
        {"path": "sub/w.bin", "sha256": store.put_bytes(model_bytes), "size": len(model_bytes)}
    ]
    env = {"key": "e" * 64, "python": "3.11", "requirements": ""}
    return records.make_record({"name": "x", "version": "1"}, env, code, model)


def test_the_build_id_is_derived_from_content_only():
    store = BlobStore(paths.blobs_dir())
    a, b = make(store), make(store)
    assert a["build_id"] == b["build_id"]
    assert make(store, code_text=b"print(2)\n")["build_id"] != a["build_id"]
    assert make(store, model_bytes=b"other")["build_id"] != a["build_id"]
    # a changed runtime setting is a new build too, so a deploy rolls it out
    changed = records.make_record(
        {"name": "x", "version": "1", "runtime": {"timeout_seconds": 5}},
        a["environment"],
        a["code"],
        a["model"],
    )
    assert changed["build_id"] != a["build_id"]
    assert len(a["build_id"]) == 64


def test_a_record_is_written_once_and_never_rewritten():
    store = BlobStore(paths.blobs_dir())
    first = records.save_build(make(store))
    path = records.record_path(first["build_id"])
    before = path.read_text()
    later = dict(first, created_at="2099-01-01T00:00:00Z")
    assert records.save_build(later)["created_at"] == first["created_at"]
    assert path.read_text() == before
    assert records.load_build(first["build_id"]) == json.loads(before)


def test_last_build_follows_the_project_marker(tmp_path):
    store = BlobStore(paths.blobs_dir())
    assert records.last_build(tmp_path) is None
    rec = records.save_build(make(store))
    records.set_last_build(tmp_path, rec["build_id"])
    assert records.last_build(tmp_path)["build_id"] == rec["build_id"]
    assert (tmp_path / ".hub" / "last-build").read_text().strip() == rec["build_id"]


def test_an_unknown_build_is_a_clear_error():
    with pytest.raises(WorkError, match="hub build"):
        records.load_build("f" * 64)


def test_materialize_copies_code_and_hard_links_model_files(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    rec = make(store)
    dest = records.materialize(rec, store, tmp_path / "version")
    assert (dest / "src" / "main.py").read_bytes() == b"print(1)\n"
    model_file = dest / "model" / "sub" / "w.bin"
    assert model_file.read_bytes() == b"weights"
    blob = store.path(rec["model"][0]["sha256"])
    assert os.stat(model_file).st_ino == os.stat(blob).st_ino  # no byte copied
    assert (
        os.stat(dest / "src" / "main.py").st_ino
        != os.stat(store.path(rec["code"][0]["sha256"])).st_ino
    )


def test_materialize_refuses_paths_that_leave_the_folder(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    rec = make(store)
    rec["code"][0]["path"] = "../../evil.py"
    with pytest.raises(WorkError, match="outside"):
        records.materialize(rec, store, tmp_path / "version")
    assert not (tmp_path / "evil.py").exists()


def test_materialize_says_when_blobs_are_missing(tmp_path):
    rec = make(BlobStore(tmp_path / "one"))
    with pytest.raises(WorkError, match="lacks 2 file"):
        records.materialize(rec, BlobStore(tmp_path / "other"), tmp_path / "v")


def _tamper(path):
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")


def test_materialize_refuses_a_blob_changed_since_it_was_stored(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    rec = make(store)
    _tamper(store.path(rec["model"][0]["sha256"]))
    with pytest.raises(WorkError, match="changed since they were stored"):
        records.materialize(rec, store, tmp_path / "version")


def test_materialize_keeps_its_own_links_trusted(tmp_path):
    # Linking a blob changes its ctime: the store records the new stat, so the next build does
    # not re-read a multi-gigabyte model because it was deployed.
    store = BlobStore(tmp_path / "blobs")
    rec = make(store)
    records.materialize(rec, store, tmp_path / "version")
    read = []
    assert store.intact(rec["model"][0]["sha256"], progress=read.append) and read == []


def test_relink_model_gives_an_existing_version_the_repaired_blob(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    rec = make(store)
    dest = records.materialize(rec, store, tmp_path / "version")
    model_file = dest / "model" / "sub" / "w.bin"
    assert records.relink_model(rec, store, dest) == 0  # nothing to do
    _tamper(model_file)  # through the version's hard link: the blob is damaged too
    with pytest.raises(WorkError, match="changed since they were stored"):
        records.relink_model(rec, store, dest)
    store.put_bytes(b"weights")  # what the next `hub build` of the project does
    assert records.relink_model(rec, store, dest) == 1
    assert model_file.read_bytes() == b"weights"
    assert os.stat(model_file).st_ino == os.stat(store.path(rec["model"][0]["sha256"])).st_ino
