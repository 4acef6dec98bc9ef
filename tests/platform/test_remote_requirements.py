"""A build record's requirements may name files on disk (a local wheel, a --find-links folder)
only for the platform's own user: another user of a shared platform must not make it install
from, or read, the platform machine's files."""

from __future__ import annotations

from platform_helpers import build_record


def _record(requirements: str) -> dict:
    return build_record("wheels", version="1", requirements=requirements, code_size=1)


LOCAL = "pkg @ file:///etc/pkg-1.0-py3-none-any.whl --hash=sha256:00\n"


def test_another_user_cannot_deploy_requirements_that_name_the_platforms_files(launch_platform):
    proc = launch_platform()
    bob = proc.add_user("bob")
    for requirements in (LOCAL, "--find-links /etc\nsix\n", "git+file:///srv/repo\n"):
        resp = proc.control(
            "POST", "/api/v1/deployments", bob, json={"record": _record(requirements)}
        )
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert error["type"] == "bad_requirements"
        assert "names a file on the platform's machine" in error["message"]
    fine = "--extra-index-url https://x.invalid/simple\nsix\n"
    assert (
        proc.control("POST", "/api/v1/deployments", bob, json={"record": _record(fine)}).status_code
        == 201
    )
    # The platform's own user builds on this machine: its local wheel is its own.
    assert (
        proc.control("POST", "/api/v1/deployments", json={"record": _record(LOCAL)}).status_code
        == 201
    )
