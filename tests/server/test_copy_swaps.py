"""A model-file copy reads and writes only what its check saw, even when a path is swapped for
a symlink after the check: the job fails with a sentence and nothing crosses the root.

The swap is made by ``CopyWork.before_file``, called in the copy thread just before a file is
opened, so it happens at exactly the moment that matters, every run.
"""

from __future__ import annotations

import os
import shutil

import pytest

from jupyter_hub_api.server.jobs.copy import CopyWork

from .conftest import follow, hub_init, post_json

SECRET = b"outside the root: never copied in"


@pytest.fixture
def outside(tmp_path):
    """A folder outside the Jupyter root holding a file the user must not read through us."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "b.bin").write_bytes(SECRET)
    return folder


def swap_at(monkeypatch, dest: str, swap) -> list[str]:
    """Run ``swap()`` in the copy thread just before the file copied to ``model/<dest>`` opens."""
    done = []

    def hook(item):
        if item.dest == dest and not done:
            swap()
            done.append(item.dest)

    monkeypatch.setattr(CopyWork, "before_file", staticmethod(hook))
    return done


def _to_symlink(path, target) -> None:
    path.rename(path.with_name(path.name + "-checked"))
    path.symlink_to(target, target_is_directory=target.is_dir())


def _to_fifo(path, _target) -> None:
    path.unlink()
    os.mkfifo(path)


async def _run_copy(jp_fetch, jp_ws_fetch, files):
    status, job = await post_json(
        jp_fetch, "hub-api", "projects", "iris", "model-files", body={"files": files}
    )
    assert status == 202, job
    events, jobs, _ = await follow(jp_ws_fetch, job["id"], timeout=60)
    return events, jobs[-1]


def _all_bytes(folder) -> list[bytes]:
    return [p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


@pytest.mark.parametrize(
    ("swapped", "change"),
    [
        ("data/sub", _to_symlink),  # a folder of the source, swapped for a link out of the root
        ("data/sub/b.bin", _to_symlink),  # the file itself
        ("data/sub/b.bin", _to_fifo),  # a FIFO would hang a plain open()
    ],
)
async def test_a_source_swapped_after_the_check_is_not_read(
    jp_fetch, jp_ws_fetch, jp_root_dir, outside, monkeypatch, swapped, change
):
    project = hub_init(jp_root_dir, "iris")
    (jp_root_dir / "data" / "sub").mkdir(parents=True)
    (jp_root_dir / "data" / "a.bin").write_bytes(b"a" * 1000)
    (jp_root_dir / "data" / "sub" / "b.bin").write_bytes(b"checked")
    target = outside if swapped == "data/sub" else outside / "b.bin"
    swapped_in = swap_at(
        monkeypatch, "data/sub/b.bin", lambda: change(jp_root_dir / swapped, target)
    )

    events, job = await _run_copy(jp_fetch, jp_ws_fetch, ["data"])

    assert swapped_in, "the hook never ran"
    assert job["state"] == "failed", (job, events[-4:])
    assert job["error"]["type"] == "path_changed", job["error"]
    assert "changed after it was checked" in job["error"]["message"]
    assert "data/sub/b.bin" in job["error"]["message"]
    assert SECRET not in _all_bytes(project)
    assert not list(project.rglob("*.hub-partial"))


async def test_a_model_folder_swapped_for_a_link_is_not_written_through(
    jp_fetch, jp_ws_fetch, jp_root_dir, tmp_path, monkeypatch
):
    project = hub_init(jp_root_dir, "iris")
    (jp_root_dir / "w.bin").write_bytes(b"w" * 1000)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / "model").mkdir(exist_ok=True)
    swapped_in = swap_at(monkeypatch, "w.bin", lambda: _to_symlink(project / "model", elsewhere))

    events, job = await _run_copy(jp_fetch, jp_ws_fetch, ["w.bin"])

    assert swapped_in, "the hook never ran"
    assert job["state"] == "failed", (job, events[-4:])
    assert job["error"]["type"] == "path_changed" and "model/w.bin" in job["error"]["message"]
    assert list(elsewhere.iterdir()) == []  # nothing written outside the project


async def test_a_subfolder_of_model_swapped_for_a_link_is_not_written_through(
    jp_fetch, jp_ws_fetch, jp_root_dir, tmp_path, monkeypatch
):
    project = hub_init(jp_root_dir, "iris")
    (jp_root_dir / "weights").mkdir()
    (jp_root_dir / "weights" / "l1.npy").write_bytes(b"1" * 100)
    (jp_root_dir / "weights" / "l2.npy").write_bytes(b"2" * 100)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def swap():
        # model/weights was made for l1.npy; replace it by a link before l2.npy is written.
        shutil.rmtree(project / "model" / "weights")
        (project / "model" / "weights").symlink_to(elsewhere, target_is_directory=True)

    swapped_in = swap_at(monkeypatch, "weights/l2.npy", swap)
    events, job = await _run_copy(jp_fetch, jp_ws_fetch, ["weights"])

    assert swapped_in
    assert job["state"] == "failed" and job["error"]["type"] == "path_changed", job
    assert list(elsewhere.iterdir()) == []


async def test_without_a_swap_the_same_copies_succeed(jp_fetch, jp_ws_fetch, jp_root_dir):
    """The guard refuses only changed paths: links that stay inside the root still work."""
    project = hub_init(jp_root_dir, "iris")
    (jp_root_dir / "data" / "sub").mkdir(parents=True)
    (jp_root_dir / "data" / "sub" / "b.bin").write_bytes(b"checked")
    (jp_root_dir / "data" / "inner-link.bin").symlink_to(jp_root_dir / "data" / "sub" / "b.bin")
    _, job = await _run_copy(jp_fetch, jp_ws_fetch, ["data"])
    assert job["state"] == "succeeded", job
    assert (project / "model" / "data" / "inner-link.bin").read_bytes() == b"checked"
    assert (project / "model" / "data" / "sub" / "b.bin").read_bytes() == b"checked"
