"""Journey benchmark (issue 11): how long, and how many clicks, from JupyterLab's launcher tile
to a prediction in the test console, with the model's environment not cached (a fresh
HUB_HOME: the first build of the run) and cached (a second API with the same requirements);
and how long from a notebook holding a trained model to a live endpoint in one cell
(``jupyter_hub_api.deploy(model, predict, name=...)`` in a real kernel, then a call to it).

A real ``jupyter lab`` (the installed extension, a fresh root folder with a real scikit-learn
model file), the real platform it starts, Debian's Chromium driven with Playwright by
``bench/journey_bench_driver.js`` (clicks as a user makes them, counted), and a real kernel
through nbclient. The goal the issue sets: 60 s and 8 clicks or fewer, cached. On this shared
2-core machine every time is inflated by the load: the JSON carries the load average.

    python bench/journey_bench.py --json-out journey.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GOAL = {"seconds_cached": 60, "clicks_cached": 8}

MODEL = (
    "import sys, joblib\n"
    "from sklearn.datasets import load_iris\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "X, y = load_iris(return_X_y=True)\n"
    "joblib.dump(LogisticRegression(max_iter=500).fit(X, y), sys.argv[1])\n"
)

NOTEBOOK_CELLS = [
    # A notebook that holds a trained model (not timed).
    "import time\n"
    "import numpy as np\n"
    "from sklearn.datasets import load_iris\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "import jupyter_hub_api as hub\n"
    "X, y = load_iris(return_X_y=True)\n"
    "model = LogisticRegression(max_iter=500).fit(X, y)\n"
    "def predict(model, inputs):\n"
    "    return model.predict(np.asarray(inputs, dtype=float).reshape(-1, 4)).tolist()\n",
    # The one cell: to a live endpoint (timed inside the kernel), then one call to it.
    "_t = time.perf_counter()\n"
    'api = hub.deploy(model, predict, name="nb-bench")\n'
    "_deploy_s = time.perf_counter() - _t\n"
    "_answer = api.predict([[5.1, 3.5, 1.4, 0.2]])\n"
    "_total_s = time.perf_counter() - _t\n"
    "import json as _json\n"
    'print("BENCH " + _json.dumps({"deploy_seconds": _deploy_s, "to_prediction_seconds":'
    ' _total_s, "answer": _answer, "endpoint": api.endpoint}))\n',
]


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float) -> None:
    """Wait until ``url`` answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 1) for x in os.getloadavg()]


def browser_journeys(work: Path, env: dict) -> dict:
    """Start jupyter lab on a fresh root with a model file; walk the journey twice."""
    root = work / "root"
    root.mkdir()
    subprocess.run([sys.executable, "-c", MODEL, str(root / "model.joblib")], check=True)
    port = free_port()
    server = subprocess.Popen(
        [
            str(BIN / "jupyter-lab"),
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--allow-root",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    results = {}
    try:
        url = f"http://127.0.0.1:{port}/lab"
        wait_http(url, 120)
        for label, api in (("not_cached", "iris-first"), ("cached", "iris-second")):
            load_before = load()
            run = subprocess.run(
                ["node", str(ROOT / "bench" / "journey_bench_driver.js"), url, api, "model.joblib"],
                capture_output=True,
                text=True,
                timeout=1200,
                env=env,
            )
            if run.returncode:
                raise RuntimeError(f"the {label} journey failed: {run.stderr[-3000:]}")
            out = run.stdout
            result = json.loads(out.strip().splitlines()[-1])
            result["load_average_before"] = load_before
            results[label] = result
            print(label, json.dumps(result), flush=True)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    return results


def notebook_cell(work: Path, env: dict) -> dict:
    """Run the notebook (a trained model, then the one deploy cell) in a real kernel."""
    import nbformat
    from nbclient import NotebookClient

    folder = work / "notebook"
    folder.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    saved = dict(os.environ)
    os.environ.update(env)  # the kernel inherits the platform URL and the HUB_HOME
    load_before = load()
    try:
        NotebookClient(
            notebook,
            timeout=1200,
            kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    text = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
    line = next(x for x in text.splitlines() if x.startswith("BENCH "))
    result = json.loads(line[len("BENCH ") :])
    result["load_average_before"] = load_before
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json-out", help="write the results there as JSON")
    parser.add_argument("--skip-notebook", action="store_true", help="only the browser journeys")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="journey-bench-") as tmp:
        work = Path(tmp)
        (work / "home").mkdir()
        env = dict(os.environ)
        env.update(
            HUB_HOME=str(work / "hub"),
            HOME=str(work / "home"),
            JUPYTER_CONFIG_DIR=str(work / "jupyter-config"),
            JUPYTER_DATA_DIR=str(work / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(work / "jupyter-runtime"),
            # The platform that the extension starts: its own port, never the user's.
            HUB_PLATFORM_URL=f"http://127.0.0.1:{free_port()}",
        )
        results: dict = {"goal": GOAL, "load_average_start": load(), "cpus": os.cpu_count()}
        try:
            results["tile_to_prediction"] = browser_journeys(work, env)
            if not args.skip_notebook:
                results["notebook_one_cell"] = notebook_cell(work, env)
                print("notebook", json.dumps(results["notebook_one_cell"]), flush=True)
        finally:
            subprocess.run(
                [str(BIN / "hub"), "platform", "stop"], env=env, capture_output=True, timeout=60
            )
        cached = results["tile_to_prediction"]["cached"]
        results["cached_meets_goal"] = {
            "seconds": cached["seconds"] <= GOAL["seconds_cached"],
            "clicks": cached["clicks"] <= GOAL["clicks_cached"],
        }
        results["load_average_end"] = load()
    text = json.dumps({"journey": results}, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
