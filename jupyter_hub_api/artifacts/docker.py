"""``hub build --image``: build the project's Docker image when a Docker engine answers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import WorkError
from ..project.names import safe_name


def engine_available() -> tuple[bool, str]:
    """Whether a Docker engine answers (``docker info`` succeeds), with the reason if not.

    A machine can have the ``docker`` client without an engine (or without access to its
    socket): only a successful ``docker info`` counts.
    """
    docker = shutil.which("docker")
    if not docker:
        return False, "the docker command is not installed"
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=15,
        )
    except subprocess.TimeoutExpired:
        return False, "the Docker engine did not answer within 15 s"
    if proc.returncode != 0:
        reason = (proc.stderr or proc.stdout).strip().splitlines()
        return False, f"no Docker engine answers ({reason[0] if reason else 'docker info failed'})"
    return True, proc.stdout.strip()


def build_image(project: Path, record: dict, runtime: Path, out) -> str:
    """Run ``docker build`` for the project; return the image tag. Streams its output."""
    tag = f"hub-api/{safe_name(record['name'])}:{record['build_id'][:12]}"  # tags: lower-case
    argv = [
        shutil.which("docker") or "docker",
        "build",
        "--build-context",
        f"hub-runtime={runtime}",
        "--build-arg",
        f"PYTHON_VERSION={record['environment']['python']}",
        "--tag",
        tag,
        str(project),
    ]
    proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    tail: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-5:]
            out.log(line, stream="stderr")
        code = proc.wait()
    except BaseException:
        proc.terminate()
        proc.wait()
        raise
    if code != 0:
        raise WorkError(
            f"docker build failed: {' '.join(t for t in tail if t)[-300:]}",
            type="image_failed",
            hint="Read docker's output above and fix the Dockerfile or requirements.",
        )
    return tag
