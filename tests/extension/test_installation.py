"""The extension is installed as users install it: both halves listed as enabled and OK."""

import os
import re
import subprocess
import sys
from pathlib import Path

JUPYTER = [sys.executable, "-m", "jupyter"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_")}
    result = subprocess.run(
        [*JUPYTER, *args], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    return ANSI.sub("", result.stdout + result.stderr)


def test_labextension_is_listed_enabled_and_ok():
    text = _run("labextension", "list")
    assert re.search(r"jupyter-hub-api v\S+ enabled OK", text), text


def test_server_extension_is_listed_enabled_and_ok():
    text = _run("server", "extension", "list")
    assert re.search(r"jupyter_hub_api enabled", text), text
    assert re.search(r"jupyter_hub_api \S+ OK", text), text


def test_labextension_ships_its_schema_and_static_bundle():
    import jupyter_hub_api

    root = Path(jupyter_hub_api.__file__).parent / "labextension"
    assert (root / "package.json").is_file()
    assert (root / "schemas" / "jupyter-hub-api" / "plugin.json").is_file()
    assert any((root / "static").glob("remoteEntry.*.js"))
