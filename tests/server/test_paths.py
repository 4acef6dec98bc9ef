"""Every path a client sends resolves inside the server root, symlinks included, or is a 400."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

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


def _refused(status: int, body, path: str) -> None:
    """Exactly the refusal: a 400 path_outside_root whose sentence says why."""
    assert (status, body["reason"]) == (400, "path_outside_root"), (path, body)
    assert (
        "outside the Jupyter server's root" in body["message"] or "absolute" in body["message"]
    ), body
    assert "not yours" not in json.dumps(body)


async def test_jobs_refuse_projects_outside_the_root(jp_fetch, jp_root_dir, escapes):
    hub_init(jp_root_dir, "iris")
    for path in escapes:
        status, body = await post_json(
            jp_fetch, "hub-api", "jobs", body={"kind": "build", "project": path}
        )
        _refused(status, body, path)
    status, listing = await fetch_json(jp_fetch, "hub-api", "jobs")
    assert listing["jobs"] == []


async def test_file_listing_and_project_endpoints_refuse_escapes(jp_fetch, jp_root_dir, escapes):
    hub_init(jp_root_dir, "iris")
    for path in escapes:
        status, body = await fetch_json(jp_fetch, "hub-api", "files", params={"path": path})
        _refused(status, body, path)
        status, body = await post_json(
            jp_fetch, "hub-api", "projects", "iris", "model-files", body={"files": [path]}
        )
        _refused(status, body, path)
        status, body = await post_json(
            jp_fetch, "hub-api", "projects", body={"name": "new-api", "parent": path}
        )
        _refused(status, body, path)
    for path in ("link-dir", "link-dir/../link-dir"):
        status, body = await fetch_json(jp_fetch, "hub-api", "projects", path, "config")
        _refused(status, body, path)
    # The listing of the root does not show the links that lead out.
    status, listing = await fetch_json(jp_fetch, "hub-api", "files")
    names = {e["name"] for e in listing["entries"]}
    assert "iris" in names and not names & {"link-dir", "link-file"}
    assert not (jp_root_dir / "new-api").exists()
    assert not (jp_root_dir / "iris" / "model" / "secret.bin").exists()


@pytest.mark.parametrize(
    "raw", ["%2E%2E", "%2e%2e%2F%2e%2e", "..%2F..", "iris%2F..%2F..", "iris/..%2F..", "%2Fetc"]
)
async def test_project_paths_in_urls_cannot_climb_out(
    http_server_client, jp_auth_header, jp_base_url, jp_root_dir, raw
):
    """Encoded dots and slashes reach the handler decoded ('..', '/'): sent as they are (a
    client library would not normalise them), each is exactly the refusal, never a 404."""
    hub_init(jp_root_dir, "iris")
    for suffix, method, body in (("config", "GET", None), ("model-files", "POST", "{}")):
        url = f"{jp_base_url.rstrip('/')}/hub-api/projects/{raw}/{suffix}"
        try:
            response = await http_server_client.fetch(
                url, method=method, body=body, headers=jp_auth_header
            )
        except HTTPClientError as err:
            response = err.response
        _refused(response.code, json.loads(response.body), raw)
