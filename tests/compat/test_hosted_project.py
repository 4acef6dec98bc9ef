"""A project in the hosted service's style, written as files on disk (not by ``hub init``),
built and deployed with the real ``hub build --deploy`` against a real platform, and called with
the hosted guide's own ``requests`` code.

The project is what issue 10 found failing: ``hub_config.json`` is the hosted service's
``{"project": ..., "version": "1.0"}`` (with a name that has an underscore), its ``utils.py``
imports PIL and numpy, which its requirements do not list (the hosted base image had both), and
its requirements use pip's syntax: a comment, ``-r`` of another file, and a ``name @ git+…``
line with a marker (a git repository made on the spot, so nothing leaves the machine but the
build tool's own download from the package index).
"""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import zlib

import pytest
import requests
from guide_client import run_guide_client

API_NAME = "transcript_search"

# The hosted service's utils.py: PIL and numpy at the top, converted to RGB, numpy by default.
UTILS = """\
import base64
import io

import numpy as np
from PIL import Image


def convert_base64_to_image(b64_string, return_type='numpy'):
    image = Image.open(io.BytesIO(base64.b64decode(b64_string))).convert('RGB')
    if return_type == 'numpy':
        return np.array(image)
    return image
"""

MAIN = """\
import os

import numpy as np
from hub import hub_handler
from transcript_tools import words
from utils import convert_base64_to_image

MODEL_DIR = os.getenv("MODEL_DIR")

with open(os.path.join(MODEL_DIR, "transcript.txt")) as f:
    LINES = [line.strip() for line in f if line.strip()]
VOCAB = sorted({w for line in LINES for w in words(line)})
MATRIX = np.array([[words(line).count(w) for w in VOCAB] for line in LINES], dtype=float)
print("indexed", len(LINES), "lines")


@hub_handler
def inference_handler(inputs, _):
    '''A query: the best line of the transcript with its score; an image: its size and colour.'''
    if isinstance(inputs, dict) and "image" in inputs:
        pixels = convert_base64_to_image(inputs["image"])
        return {"shape": list(pixels.shape), "first_pixel": pixels[0, 0].tolist()}
    query = np.array([words(inputs).count(w) for w in VOCAB], dtype=float)
    scores = MATRIX @ query
    best = int(scores.argmax())
    return [(LINES[best], float(scores[best]))]
"""

TRANSCRIPT = """\
welcome to the show about deployment
today we deploy a model with one command
the model answers questions about transcripts
"""

# The guide's client code, unchanged but for the host (the guide's is api.cellstrathub.com).


def _git(*args, cwd):
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def _git_package(root):
    """A tiny package in a git repository; returns ``git+file://...@<commit>``."""
    repo = root / "transcript-tools"
    (repo / "transcript_tools").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '\n[project]\nname = "transcript-tools"\nversion = "0.3"\n'
    )
    (repo / "transcript_tools" / "__init__.py").write_text(
        "import re\n\ndef words(text):\n    return re.findall(r'[a-z]+', text.lower())\n"
    )
    _git("init", "-q", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "v0.3", cwd=repo)
    return f"git+{repo.as_uri()}@{_git('rev-parse', 'HEAD', cwd=repo)}"


def hosted_project(root, config):
    """The project as its author had it for the hosted service: files, no `hub init`."""
    (root / "src").mkdir(parents=True)
    (root / "model").mkdir()
    (root / "hub_config.json").write_text(json.dumps(config))
    (root / "src" / "main.py").write_text(MAIN)
    (root / "src" / "utils.py").write_text(UTILS)
    (root / "src" / "requirements.txt").write_text(
        "# numpy and Pillow come with the base image\n-r requirements-search.txt\n"
    )
    (root / "src" / "requirements-search.txt").write_text(
        f"transcript-tools @ {_git_package(root.parent)} ; python_version >= '3.8'\n"
    )
    (root / "model" / "transcript.txt").write_text(TRANSCRIPT)
    return root


def _png_base64(rgba, width=3, height=2):
    """A transparent PNG (RGBA, 8 bits) as base64, written by hand: the test needs no Pillow."""
    raw = b"".join(b"\0" + bytes(rgba) * width for _ in range(height))

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
    return base64.b64encode(png + chunk(b"IEND", b"")).decode()


def _build_deploy(platform, root):
    run = platform.hub("build", "--deploy", "--json", cwd=root)
    events = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    return run, events


@pytest.fixture(scope="module")
def hosted_api(hosted_platform, tmp_path_factory):
    root = hosted_project(
        tmp_path_factory.mktemp("hosted") / "transcript-search",
        {"project": API_NAME, "version": "1.0"},
    )
    run, events = _build_deploy(hosted_platform, root)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = [e for e in events if e["event"] == "result"][-1]
    assert result["name"] == API_NAME and result["version"] == "1.0"
    return result


def test_the_hosted_project_deploys_at_its_hosted_name(hosted_api, hosted_platform):
    assert hosted_api["endpoint"] == hosted_platform.endpoint(API_NAME)
    record = json.loads(
        (hosted_platform.home / "builds" / f"{hosted_api['build_id']}.json").read_text()
    )
    requirements = record["environment"]["requirements"].splitlines()
    # the base image's packages, and the included file's git requirement, in the record
    assert "numpy" in requirements and "pillow" in requirements
    assert any(line.startswith("transcript-tools @ git+file://") for line in requirements)


def test_the_guides_client_gets_the_handlers_answer(hosted_api, hosted_platform):
    output = run_guide_client(hosted_platform, API_NAME, "how do we deploy a model")
    assert output == [["today we deploy a model with one command", 4.0]]


def test_utils_of_the_hosted_project_reads_an_image_with_pil_and_numpy(hosted_api, hosted_platform):
    payload = {"image": _png_base64((10, 20, 30, 0))}
    assert run_guide_client(hosted_platform, API_NAME, payload) == {
        "shape": [2, 3, 3],
        "first_pixel": [10, 20, 30],
    }


def test_opting_out_of_the_base_packages_leaves_numpy_out(hosted_platform, tmp_path):
    root = hosted_project(
        tmp_path / "lean",
        {"project": "transcript_lean", "version": "1.0", "base_packages": False},
    )
    run, events = _build_deploy(hosted_platform, root)
    # The build succeeds; the new version does not load, so nothing is deployed, and it says why.
    assert run.returncode == 1
    build = [e for e in events if e["event"] == "step" and e["name"] == "record"]
    assert build[-1]["status"] == "done"
    error = [e for e in events if e["event"] == "error"][-1]
    assert "No module named 'numpy'" in error["message"]


def test_a_config_without_any_name_suggests_the_folder(hosted_platform, tmp_path):
    root = tmp_path / "clip-zero-shot"
    root.mkdir()
    (root / "hub_config.json").write_text('{"version": "1.0"}')
    run = hosted_platform.hub("build", cwd=root)
    assert run.returncode == 2
    assert 'add "name": "clip-zero-shot"' in run.stderr
    assert "Traceback" not in run.stderr


GENERATED_UTILS_MAIN = """\
from hub import hub_handler
from utils import convert_base64_to_image


@hub_handler
def inference_handler(inputs, _):
    pixels = convert_base64_to_image(inputs)  # the hosted default: numpy, RGB
    return {"type": type(pixels).__name__, "shape": list(pixels.shape), "pixel": pixels[0, 0].tolist()}
"""


def test_the_generated_utils_converts_like_the_hosted_one(hosted_platform, tmp_path):
    # A project of `hub init` with nothing in its requirements: numpy and Pillow are there.
    assert hosted_platform.hub("init", "pixels", "--dir", str(tmp_path)).returncode == 0
    (tmp_path / "pixels" / "src" / "main.py").write_text(GENERATED_UTILS_MAIN)
    run, events = _build_deploy(hosted_platform, tmp_path / "pixels")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    endpoint = [e for e in events if e["event"] == "result"][-1]["endpoint"]
    headers = {"x-api-key": hosted_platform.key(), "Content-Type": "application/json"}
    response = requests.post(
        endpoint, headers=headers, data=json.dumps(_png_base64((200, 100, 50, 128))), timeout=120
    ).json()
    assert response["body"]["output"] == {
        "type": "ndarray",
        "shape": [2, 3, 3],
        "pixel": [200, 100, 50],
    }
