"""A full disk, for real: the Jupyter root or the job store on a small tmpfs.

A copy that does not fit is a 507 before it starts; a disk that fills during a copy fails the
job with one sentence and leaves no partial file; a job store that is full answers 507 to a new
job and fails a running one with a sentence, and the project is not left busy.
"""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from jupyter_hub_api.server.jobs.copy import CopyWork
from jupyter_hub_api.server.jobs.store import JobStore

from .conftest import fetch_json, follow, hub_init, post_json

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a small tmpfs (a disk that really fills) needs root"
)


def _mount_tmpfs(folder, size: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603 - argv list
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)],
        check=True,
        capture_output=True,
    )


def _unmount(folder) -> None:
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode:  # noqa: S603
        subprocess.run(["umount", "-l", str(folder)], check=True)  # noqa: S603


def fill(folder) -> object:
    """Write a file into ``folder`` until its disk is full; return the file's path."""
    path = folder / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (b"\0" * (1 << 20), b"\0" * 4096, b"\0"):
            try:
                while os.write(fd, chunk):
                    pass
            except OSError as err:
                assert err.errno == errno.ENOSPC, err
    finally:
        os.close(fd)
    return path


@pytest.fixture
def small_disk(tmp_path):
    """An 80 MiB disk: room for a project and a small file, with the copy's 64 MiB headroom."""
    folder = tmp_path / "disk"
    _mount_tmpfs(folder, "80m")
    yield folder
    _unmount(folder)


class TestRootOnASmallDisk:
    @pytest.fixture
    def jp_root_dir(self, small_disk):
        """The Jupyter server's root on the small disk."""
        root = small_disk / "root_dir"
        root.mkdir()
        return root

    async def test_a_copy_bigger_than_the_free_space_is_a_507_before_anything_is_made(
        self, jp_fetch, jp_root_dir
    ):
        hub_init(jp_root_dir, "iris")
        with open(jp_root_dir / "big.bin", "wb") as f:
            f.truncate(100 << 20)  # sparse: takes no room on tmpfs, but 100 MiB to copy
        status, error = await post_json(
            jp_fetch, "hub-api", "projects", "iris", "model-files", body={"files": ["big.bin"]}
        )
        assert status == 507 and error["reason"] == "disk_full", error
        assert "free some space" in error["message"] and error["message"].endswith(".")
        status, error = await post_json(
            jp_fetch, "hub-api", "projects", body={"name": "new-api", "model_files": ["big.bin"]}
        )
        assert status == 507 and error["reason"] == "disk_full", error
        assert not (jp_root_dir / "new-api").exists()
        status, jobs = await fetch_json(jp_fetch, "hub-api", "jobs")
        assert jobs["jobs"] == []

    async def test_a_disk_that_fills_during_the_copy_fails_the_job_and_leaves_no_partial_file(
        self, jp_fetch, jp_ws_fetch, jp_root_dir, monkeypatch
    ):
        project = hub_init(jp_root_dir, "iris")
        (jp_root_dir / "w.bin").write_bytes(b"w" * (1 << 20))
        fillers = []
        monkeypatch.setattr(
            CopyWork, "before_file", staticmethod(lambda item: fillers.append(fill(jp_root_dir)))
        )
        status, job = await post_json(
            jp_fetch, "hub-api", "projects", "iris", "model-files", body={"files": ["w.bin"]}
        )
        assert status == 202, job
        events, jobs, _ = await follow(jp_ws_fetch, job["id"], timeout=60)

        assert fillers, "the disk was never filled"
        final = jobs[-1]
        assert final["state"] == "failed", (final, events[-4:])
        assert final["error"]["type"] == "disk_full"
        assert "model/w.bin" in final["error"]["message"]
        assert "free some space" in final["error"]["message"]
        assert not (project / "model" / "w.bin").exists()
        assert not list(project.rglob("*.hub-partial"))

        # With room again, the same copy works.
        fillers[0].unlink()
        monkeypatch.setattr(CopyWork, "before_file", None)
        _, job = await post_json(
            jp_fetch, "hub-api", "projects", "iris", "model-files", body={"files": ["w.bin"]}
        )
        _, jobs, _ = await follow(jp_ws_fetch, job["id"], timeout=60)
        assert jobs[-1]["state"] == "succeeded", jobs[-1]
        assert (project / "model" / "w.bin").read_bytes() == b"w" * (1 << 20)


class TestJobStoreOnASmallDisk:
    @pytest.fixture
    def jobs_dir(self, tmp_path):
        """The job store (jobs.db and the event logs) on a 2 MiB disk."""
        folder = tmp_path / "jobs"
        _mount_tmpfs(folder, "2m")
        yield folder
        _unmount(folder)

    async def test_a_new_job_on_a_full_job_store_is_a_507_and_leaves_no_ghost(
        self, jp_fetch, jp_ws_fetch, jp_root_dir, jobs_dir
    ):
        hub_init(jp_root_dir, "iris")
        (jp_root_dir / "w.bin").write_bytes(b"w")
        filler = fill(jobs_dir)
        for parts in (("jobs",), ("projects", "iris", "model-files")):
            body = {"kind": "build", "project": "iris", "files": ["w.bin"]}
            status, error = await post_json(jp_fetch, "hub-api", *parts, body=body)
            assert status == 507 and error["reason"] == "disk_full", (parts, error)
            assert str(jobs_dir) in error["message"] and error["message"].endswith(".")
        status, listing = await fetch_json(jp_fetch, "hub-api", "jobs")
        assert status == 200 and listing["jobs"] == []

        filler.unlink()  # room again: the project is not left busy by the refused jobs
        status, job = await post_json(
            jp_fetch, "hub-api", "projects", "iris", "model-files", body={"files": ["w.bin"]}
        )
        assert status == 202, job
        _, jobs, _ = await follow(jp_ws_fetch, job["id"], timeout=60)
        assert jobs[-1]["state"] == "succeeded"

    async def test_a_job_whose_log_fills_the_disk_fails_with_a_sentence(
        self, jp_fetch, jp_ws_fetch, jp_root_dir, jobs_dir, monkeypatch
    ):
        hub_init(jp_root_dir, "iris")
        # Enough files that their log lines outgrow the page the log file already has.
        (jp_root_dir / "many").mkdir()
        for i in range(60):
            (jp_root_dir / "many" / f"{'layer-' * 12}{i:03d}.npy").write_bytes(b"x")
        fillers = []

        def fill_once(item):
            if not fillers:
                fillers.append(fill(jobs_dir))

        monkeypatch.setattr(CopyWork, "before_file", staticmethod(fill_once))
        status, job = await post_json(
            jp_fetch, "hub-api", "projects", "iris", "model-files", body={"files": ["many"]}
        )
        assert status == 202, job
        _, jobs, _ = await follow(jp_ws_fetch, job["id"], timeout=60)

        final = jobs[-1]
        assert final["state"] == "failed", final
        assert final["error"]["type"] == "disk_full"
        assert str(jobs_dir) in final["error"]["message"]
        status, record = await fetch_json(jp_fetch, "hub-api", "jobs", job["id"])
        assert status == 200 and record["state"] == "failed", record

        fillers[0].unlink()
        monkeypatch.setattr(CopyWork, "before_file", None)
        # The project is free (the files copied before the stop are replaced).
        status, again = await post_json(
            jp_fetch,
            "hub-api",
            "projects",
            "iris",
            "model-files",
            body={"files": ["many"], "overwrite": True},
        )
        assert status == 202, again
        _, jobs, _ = await follow(jp_ws_fetch, again["id"], timeout=60)
        assert jobs[-1]["state"] == "succeeded", jobs[-1]
        # The failed job's record reached the database once there was room.
        assert JobStore(jobs_dir).get(job["id"]).state.value == "failed"
