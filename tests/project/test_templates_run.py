"""Each template's handler, imported in a fresh environment made by ensure_environment and
called on a small model made on the spot.

The scikit-learn and blank templates run here, on every machine. The PyTorch, Transformers and
Keras templates are built, deployed and called for real in tests/frameworks/ (the frameworks
are installed into each API's own environment there, never into the test's).
"""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import zlib

import pytest

from jupyter_hub_api.artifacts.environments import current_python, ensure_environment
from jupyter_hub_api.project.scaffold import init_project

DRIVER = """
import json, sys
import hub, main
inputs = json.loads(sys.argv[1])
try:
    import jupyter_hub_api
    leaked = True
except ImportError:
    leaked = False
print(json.dumps({
    "output": main.inference_handler(inputs, None),
    "hub": hub.__file__,
    "handlers": [h.__name__ for h in hub.registered_handlers()],
    "product_leaked": leaked,
}))
"""


def run_handler(project, inputs, extra_requirements=""):
    """Make the project's environment and call its handler there; return the driver's JSON."""
    requirements = (project / "src" / "requirements.txt").read_text() + extra_requirements
    env = ensure_environment(current_python(), requirements)
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    proc = subprocess.run(  # noqa: S603
        [str(env.python), "-c", DRIVER, json.dumps(inputs)],
        cwd=project / "src",
        env={**clean, "MODEL_DIR": str(project / "model")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # the worker sees the runtime folder (only `hub`), never the product's own packages
    assert "runtime" in result["hub"] and not result["product_leaked"]
    assert result["handlers"] == ["inference_handler"]
    return result["output"]


def test_sklearn_template_predicts_with_models_trained_here(tmp_path):
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    project = tmp_path / "iris"
    init_project("iris", "sklearn", parent=tmp_path)
    x, y = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(x, y), project / "model" / "model.joblib")

    output = run_handler(project, [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    assert [row["prediction"] for row in output] == [0, 2]
    assert set(output[0]["probabilities"]) == {"0", "1", "2"}
    # one row on its own and the {"instances": ...} form work too
    assert run_handler(project, [5.1, 3.5, 1.4, 0.2])[0]["prediction"] == 0
    assert run_handler(project, {"instances": [[6.7, 3.0, 5.2, 2.3]]})[0]["prediction"] == 2

    # Another project with the same requirements shares the environment; its model file has
    # another name and is a regressor (no predict_proba): plain predictions come back.
    from sklearn.linear_model import LinearRegression

    other = tmp_path / "reg"
    init_project("reg", "sklearn", parent=tmp_path)
    joblib.dump(LinearRegression().fit([[0], [1], [2]], [0, 2, 4]), other / "model" / "lr.pkl")
    assert run_handler(other, [[3]]) == [pytest.approx(6.0)]


def test_blank_template_echoes_in_an_environment_without_packages(tmp_path):
    project = tmp_path / "echo"
    init_project("echo", "blank", parent=tmp_path)
    assert run_handler(project, {"text": "hi", "n": [1, 2]}) == {
        "echo": {"text": "hi", "n": [1, 2]}
    }


def _png(width, height, pixels):
    """A PNG file (RGB, 8 bits) written by hand, so the test needs no Pillow of its own."""
    raw = b"".join(
        b"\0" + bytes(c for x in range(width) for c in pixels[y][x]) for y in range(height)
    )

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_utils_converts_base64_images_both_ways_with_pillow_and_numpy(tmp_path):
    project = tmp_path / "img"
    init_project("img", "blank", parent=tmp_path)
    (project / "src" / "main.py").write_text(
        "from hub import hub_handler\n"
        "from utils import convert_base64_to_image, convert_image_to_base64\n\n"
        "@hub_handler\n"
        "def inference_handler(inputs, context):\n"
        "    image = convert_base64_to_image(inputs, return_type='pillow')\n"
        "    array = convert_base64_to_image(inputs, return_type='numpy')\n"
        "    again = convert_base64_to_image(convert_image_to_base64(array[:, ::-1]), 'numpy')\n"
        "    return [list(image.size), list(array.shape), again[0, 0].tolist(), array[0, -1].tolist()]\n"
    )
    grey, red = (10, 20, 30), (200, 100, 50)
    png = _png(3, 2, [[grey, grey, red], [grey, grey, grey]])
    b64 = "data:image/png;base64," + base64.b64encode(png).decode()
    output = run_handler(project, b64, extra_requirements="pillow\nnumpy\n")
    assert output == [[3, 2], [2, 3, 3], [200, 100, 50], [200, 100, 50]]


def test_utils_works_without_pillow_and_rejects_bad_base64(tmp_path):
    project = tmp_path / "b64"
    init_project("b64", "blank", parent=tmp_path)
    (project / "src" / "main.py").write_text(
        "from hub import hub_handler\n"
        "import utils\n\n"
        "@hub_handler\n"
        "def inference_handler(inputs, context):\n"
        "    roundtrip = utils.decode_base64(utils.encode_base64(inputs.encode())).decode()\n"
        "    try:\n"
        "        utils.decode_base64('***')\n"
        "    except ValueError as err:\n"
        "        bad = str(err)\n"
        "    try:\n"
        "        utils.convert_base64_to_image(utils.encode_base64(b'x'))\n"
        "    except ImportError as err:\n"
        "        missing = err.name\n"
        "    return [roundtrip, bad, missing]\n"
    )
    roundtrip, bad, missing = run_handler(project, "héllo")
    assert roundtrip == "héllo"
    assert "not valid base64" in bad
    assert missing == "PIL"  # Pillow is imported only when an image helper is used
