"""The wizard's requirements pinned to the kernel the user works in, not to the server's own
environment: ``GET /hub-api/templates?kernel=default`` asks the default kernelspec's interpreter
(here a separate venv with joblib only), ``?kernel_id=`` a running notebook kernel's."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import fetch_json, post_json

UV = str(Path(sys.executable).parent / "uv")
JOBLIB = importlib.metadata.version("joblib")
SKLEARN = importlib.metadata.version("scikit-learn")


@pytest.fixture(scope="module")
def kernel_venv(tmp_path_factory) -> Path:
    """A Python environment of its own, as a conda env or venv with a kernelspec is: joblib
    (installed by uv, the installer builds use) and nothing else of the template's needs."""
    venv = tmp_path_factory.mktemp("kernel-venv") / "venv"
    subprocess.run([UV, "venv", "-q", str(venv)], check=True)  # noqa: S603 - argv list
    subprocess.run(  # noqa: S603 - argv list
        [UV, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), f"joblib=={JOBLIB}"],
        check=True,
    )
    return venv


@pytest.fixture
def hub_api_config() -> dict:
    return {}


@pytest.fixture
def jp_server_config(jobs_dir, hub_api_config):
    """The server's default kernel is the venv's ("venv-kernel"), written below."""
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_hub_api": True}},
        "HubAPIApp": {"jobs_dir": str(jobs_dir), **hub_api_config},
        "MappingKernelManager": {"default_kernel_name": "venv-kernel"},
        "FileContentsManager": {"delete_to_trash": False},
    }


def write_kernelspec(data_dir: Path, name: str, argv: list[str], language: str = "python"):
    folder = data_dir / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    # The test run's PYTHONPATH names this venv's site-packages: the kernel's env drops it,
    # as a kernelspec's "env" may (the probe runs with the kernelspec's env, as the kernel).
    spec = {
        "argv": argv,
        "display_name": f"Kernel {name}",
        "language": language,
        "env": {"PYTHONPATH": ""},
    }
    (folder / "kernel.json").write_text(json.dumps(spec))


def sklearn_of(answer: dict) -> dict:
    return next(t for t in answer["templates"] if t["name"] == "sklearn")


async def test_the_default_kernel_pins_what_its_interpreter_has_not_what_the_server_has(
    jp_fetch, jp_data_dir, kernel_venv
):
    python = str(kernel_venv / "bin" / "python")
    write_kernelspec(
        jp_data_dir, "venv-kernel", [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    )
    _, answer = await fetch_json(jp_fetch, "hub-api", "templates", params={"kernel": "default"})
    assert answer["kernel"]["name"] == "venv-kernel" and answer["kernel"]["source"] == "default"
    assert answer["kernel"]["python"].startswith(str(kernel_venv))
    pinned = sklearn_of(answer)["pinned"]
    # The server has scikit-learn (this test imports it); the kernel has not: left unpinned,
    # and said so. joblib is pinned to the kernel's version, with where the line came from.
    assert pinned["requirements"] == [f"joblib=={JOBLIB}", "numpy", "scikit-learn"]
    assert pinned["unresolved"]["scikit-learn"] == "not installed in the kernel"
    assert "template's requirements.txt" in pinned["origins"][f"joblib=={JOBLIB}"]
    # Without a kernel argument the templates are as they were (no probe).
    _, plain = await fetch_json(jp_fetch, "hub-api", "templates")
    assert "kernel" not in plain and "pinned" not in sklearn_of(plain)


async def test_a_running_notebook_kernel_pins_to_its_own_interpreter(jp_fetch, jp_data_dir):
    # The server's own interpreter as a kernel (ipykernel is installed there): scikit-learn,
    # joblib and numpy all pinned to the versions installed.
    write_kernelspec(
        jp_data_dir,
        "server-python",
        [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
    )
    status, kernel = await post_json(jp_fetch, "api", "kernels", body={"name": "server-python"})
    assert status == 201, kernel
    try:
        _, answer = await fetch_json(
            jp_fetch, "hub-api", "templates", params={"kernel_id": kernel["id"]}
        )
        assert answer["kernel"]["source"] == "notebook"
        assert answer["kernel"]["name"] == "server-python"
        pinned = sklearn_of(answer)["pinned"]
        assert f"scikit-learn=={SKLEARN}" in pinned["requirements"]
        assert f"joblib=={JOBLIB}" in pinned["requirements"]
        assert all("==" in line for line in pinned["requirements"])
        assert "import joblib in main.py" in pinned["origins"][f"joblib=={JOBLIB}"] or (
            "template" in pinned["origins"][f"joblib=={JOBLIB}"]
        )
    finally:
        await jp_fetch("api", "kernels", kernel["id"], method="DELETE")


async def test_a_kernel_that_cannot_answer_is_one_sentence_and_the_templates_stay(
    jp_fetch, jp_data_dir
):
    write_kernelspec(jp_data_dir, "r-kernel", ["R", "--slave"], language="R")
    _, answer = await fetch_json(jp_fetch, "hub-api", "templates", params={"kernel": "r-kernel"})
    assert answer["kernel_error"].startswith("The kernel Kernel r-kernel runs R, not Python")
    assert sklearn_of(answer)["requirements"] and "pinned" not in sklearn_of(answer)
    _, gone = await fetch_json(jp_fetch, "hub-api", "templates", params={"kernel_id": "nope"})
    assert gone["kernel_error"] == (
        "The notebook's kernel is not running any more, so its packages cannot be read."
    )
    write_kernelspec(jp_data_dir, "missing", ["/nonexistent/python", "-m", "ipykernel_launcher"])
    _, missing = await fetch_json(jp_fetch, "hub-api", "templates", params={"kernel": "missing"})
    assert "does not exist" in missing["kernel_error"]
