"""The wheel is what users install: it must carry the prebuilt labextension and need no Node.js.

Builds the wheel with ``pip wheel .`` as the issue states, installs it with uv into a clean
virtual environment, and asks that environment's ``jupyter`` (with a PATH that has no ``node``)
whether both halves of the extension are enabled and OK, and its ``hub`` for its real version.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from uv import find_uv_bin

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        timeout=600,
    )
    (found,) = out.glob("jupyter_hub_api-*.whl")
    return found


def test_wheel_contains_the_labextension_and_the_server_config(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    prefix = "jupyter_hub_api-"
    data = [n for n in names if ".data/data/share/jupyter/labextensions/jupyter-hub-api/" in n]
    assert any(n.endswith("/package.json") for n in data), names
    assert any("/static/remoteEntry." in n for n in data), names
    assert sum(n.endswith("/install.json") for n in data) == 1, names
    assert any(
        n.endswith("etc/jupyter/jupyter_server_config.d/jupyter_hub_api.json") for n in names
    )
    assert any(n.startswith("hub/") for n in names), "the runtime package 'hub' is missing"
    # written by the build's version hook and git-ignored: without it `hub` says version "dev"
    assert "jupyter_hub_api/_version.py" in names
    assert all(not n.startswith(prefix) or ".dist-info/" in n or ".data/" in n for n in names)


def test_wheel_installed_without_node_lists_the_extension_enabled(wheel, tmp_path):
    venv = tmp_path / "venv"
    uv = find_uv_bin()
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel)],
        check=True,
        timeout=900,
    )
    # Only the new environment on PATH: no Node.js (which lives in /usr/bin here) can be found.
    env = {"PATH": str(venv / "bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    assert shutil.which("node", path=env["PATH"]) is None

    def jupyter(*args: str) -> str:
        result = subprocess.run(
            [str(venv / "bin" / "jupyter"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return ANSI.sub("", result.stdout + result.stderr)

    assert re.search(r"jupyter-hub-api v\S+ enabled OK", jupyter("labextension", "list"))
    server = jupyter("server", "extension", "list")
    assert re.search(r"jupyter_hub_api \S+ OK", server), server
    # The real version (package.json's, through hatch), and not a word on stderr: no
    # "Importing 'jupyter_hub_api' outside a proper installation" warning.
    expected = json.loads((REPO / "package.json").read_text())["version"]
    version = subprocess.run(
        [str(venv / "bin" / "hub"), "--version"], env=env, capture_output=True, text=True
    )
    assert (version.returncode, version.stdout, version.stderr) == (0, f"hub {expected}\n", "")
    imported = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-W",
            "error",
            "-c",
            "import jupyter_hub_api as j; print(j.__version__)",
        ],
        env=env,
        cwd=tmp_path,  # (-c puts the working directory first on sys.path: not this checkout)
        capture_output=True,
        text=True,
    )
    assert (imported.returncode, imported.stdout.strip(), imported.stderr) == (0, expected, "")
    # The platform's metering process runs from the installed files (the standard library only,
    # started with -I -S): a call's row written through it lands in the database.
    metered = subprocess.run(
        [str(venv / "bin" / "python"), "-W", "error", "-c", METERED, str(tmp_path / "p.db")],
        env=env,
        cwd=tmp_path,  # (-c puts the working directory first on sys.path: not this checkout)
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert metered.returncode == 0, metered.stderr
    script, rows = metered.stdout.split()
    assert Path(script).is_relative_to(venv) and script.endswith("store/metering.py"), script
    assert rows == "1"


METERED = """
import asyncio, sys, time
from jupyter_hub_api.platform.db import Database
from jupyter_hub_api.platform.models import InvocationRow
from jupyter_hub_api.platform.store import Repositories

db = Database(sys.argv[1])

async def main():
    repos = Repositories(db)
    row = InvocationRow(
        id="w1", user_id=1, api_id=1, api_name="a", version_id=None, key_id=None,
        ts=time.time(), month=time.strftime("%Y-%m"), status=200, counted=True,
        latency_ms=1.0, input=b"1", output=b"1",
    )
    await repos.invocations.add(row, 1024, None, False)
    pid = db.meters[asyncio.get_running_loop()].pid
    with open(f"/proc/{pid}/cmdline") as fh:
        print(fh.read().split("\\0")[3])
    print(len(repos.invocations.page(1)))

asyncio.run(main())
db.close()
"""
