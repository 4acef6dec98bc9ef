"""Every path a client sends resolves inside the server root, symlinks included, or is a 400."""

from __future__ import annotations

import json

import pytest

from jupyter_hub_api.errors import UsageError
from jupyter_hub_api.server.paths import resolve

from .conftest import fetch_json, hub_init, post_json


@pytest.fixture
def escapes(jp_root_dir, tmp_path):
    """Paths that leave the root: '..', absolute, and symlinks (file and folder) pointing out."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(b"not yours")
    (outside / "hub_config.json").write_text('{"name": "outside", "version": "1"}')
    (jp_root_dir / "link-dir").symlink_to(outside, target_is_directory=True)
    (jp_root_dir / "link-file").symlink_to(outside / "secret.bin")
    return [
        "..",
        "../outside",
        "iris/../../outside",
        str(outside),
        "/etc",
        "link-dir",
        "link-file",
        "link-dir/secret.bin",
    ]


def test_resolve_refuses_escapes_and_accepts_links_that_stay_inside(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "inner-link").symlink_to(root / "a")
    (root / "outer-link").symlink_to(tmp_path)
    assert resolve(root, "inner-link") == (root / "a").resolve()
    assert resolve(root, "") == root.resolve()
    assert resolve(root, "a/../a") == (root / "a").resolve()
    for bad in ("..", "a/../..", "/tmp", "outer-link", "outer-link/x", "C:/x"):
        with pytest.raises(UsageError) as info:
            resolve(root, bad)
        assert info.value.status == 400


async def test_jobs_refuse_projects_outside_the_root(jp_fetch, jp_root_dir, escapes):
    hub_init(jp_root_dir, "iris")
    for path in escapes:
        status, body = await post_json(
            jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": path}
        )
        assert status == 400, (path, body)
        assert body["reason"] in ("path_outside_root", "not_a_project"), (path, body)
        if body["reason"] == "path_outside_root":
            assert (
                "outside the Jupyter server's root" in body["message"]
                or "absolute" in body["message"]
            )
        # Nothing outside was treated as a project, whatever the reason given.
    status, body = await post_json(
        jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": "link-dir"}
    )
    assert body["reason"] == "path_outside_root"


async def test_file_listing_and_project_endpoints_refuse_escapes(jp_fetch, jp_root_dir, escapes):
    hub_init(jp_root_dir, "iris")
    for path in escapes:
        status, body = await fetch_json(jp_fetch, "hub-api", "files", params={"path": path})
        assert status == 400, (path, body)
        status, body = await post_json(
            jp_fetch, "hub-api", "projects", "iris", "model-files", body={"files": [path]}
        )
        assert status == 400 and body["reason"] in ("path_outside_root", "bad_path"), (path, body)
        status, body = await post_json(
            jp_fetch, "hub-api", "projects", body={"name": "new-api", "parent": path}
        )
        assert status == 400, (path, body)
    for path in ("link-dir", "link-dir/../link-dir"):
        status, body = await fetch_json(jp_fetch, "hub-api", "projects", path, "config")
        assert status == 400 and body["reason"] == "path_outside_root", (path, body)
    # The listing of the root does not show the links that lead out.
    status, listing = await fetch_json(jp_fetch, "hub-api", "files")
    names = {e["name"] for e in listing["entries"]}
    assert "iris" in names and not names & {"link-dir", "link-file"}
    assert not (jp_root_dir / "new-api").exists()


async def test_project_paths_in_urls_cannot_climb_out(jp_fetch, jp_root_dir, escapes):
    # Encoded dots reach the handler as '..' (a client library would not normalise them).
    status, body = await fetch_json(jp_fetch, "hub-api", "projects", "%2E%2E", "config")
    assert status in (400, 404), body
    if status == 400:
        assert body["reason"] in ("path_outside_root", "not_a_project")
    assert json.dumps(body).count("not yours") == 0
