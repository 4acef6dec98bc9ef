"""Batching and streaming against the peers, in one run (issue 16, items 1 and 2).

    python bench/batch_bench.py [--seconds 5] [--concurrency 16,64] [--json-out FILE]
                                [--peers-python .work/bench-peers/venv/bin/python]

Throughput (wrk, closed loop, every system on this machine, unpinned) of two models, one row
per request, at each concurrency:

- sklearn: the iris logistic regression of bench/peers/train_model.py
  (``{"inputs": [[5.1, 3.5, 1.4, 0.2]]}``);
- torch: the small MLP of bench/peers/torch_mlp.py (32 -> 256 -> 256 -> 8, random weights from
  a fixed seed, saved with ``torch.save(state_dict)``, one intra-op thread per worker), rows of
  32 features; its API environment gets the peers' torch version from PyPI (uv, from its cache
  when it has it).

For each model:

- ours unbatched: ``@hub_handler``, min_workers 1, max_workers 2 (serving.py's tuned ours);
- ours batched: ``@hub_handler(batch=True, max_batch_size=32, max_wait_ms=5)``, the same
  workers; the rows of the requests of a batch are predicted with one call of the model;
- BentoML unbatched (serving.py's tuned: 2 workers, 4 threads) and batched
  (``@bentoml.api(batchable=True, max_batch_size=32)``, 2 workers);
- LitServe unbatched (serving.py's tuned: 2 workers, fast queue) and batched
  (``LitAPI(max_batch_size=32, batch_timeout=0.005)``, 2 workers).

Each server gets a sequential first call and a 2 s warm-up at concurrency 16 (ours' second
worker starts under load) before its measured runs. Ours goes through the whole platform: key
check, quota and rate limit (a plan without limits), metering committed before each answer.
Streaming: time to first byte and to the last byte of a generator that yields 8 items 20 ms
apart (the first at once), ours as Server-Sent Events (``Accept: text/event-stream``) against
LitServe's ``stream=True``, sequential calls. Figures are ratios against the peers measured in
the same run, one system after another: each wrk cell records the load average, so compare
where the loads were alike. ``--models sklearn`` leaves torch out; when the peers' Python has
no torch the torch rows say so and the rest is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ours_driver import OursPlatform  # noqa: E402
from serving import (  # noqa: E402
    DEFAULT_PEERS_PYTHON,
    PEERS_DIR,
    BenchError,
    Server,
    ensure_wrk,
    free_port,
    run_wrk,
    start_peer,
    stop_tree,
    wait_ready,
)

STREAM_ITEMS, STREAM_GAP_MS = 8, 20
sys.path.insert(0, str(PEERS_DIR))
import torch_mlp  # noqa: E402  (its payload; torch itself is imported only by the servers)

# Per model: the body of every request, how ours' handler loads the predict function, and the
# model files an API ships in model/.
MODELS = {
    "sklearn": {
        "body": '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}',
        "loader": 'bench_handlers.make_sklearn(os.environ["MODEL_DIR"])',
        "files": ("model.joblib",),
    },
    "torch": {
        "body": torch_mlp.PAYLOAD,
        "loader": 'bench_handlers.load("torch", os.environ["MODEL_DIR"])',
        "files": ("mlp.pt", "mlp.json"),
    },
}

OURS_UNBATCHED = '''"""batch_bench: {model}, one request per call."""
import os

import bench_handlers
from hub import hub_handler

predict_rows = {loader}


@hub_handler
def inference_handler(inputs, context):
    return predict_rows(inputs["inputs"])
'''

OURS_BATCHED = '''"""batch_bench: {model}, the requests of a batch predicted together."""
import os

import bench_handlers
from hub import hub_handler

predict_rows = {loader}


@hub_handler(batch=True, max_batch_size=32, max_wait_ms=5)
def inference_handler(batch, contexts):
    rows = [row for body in batch for row in body["inputs"]]
    flat = predict_rows(rows)
    out, at = [], 0
    for body in batch:
        n = len(body["inputs"])
        out.append(flat[at : at + n])
        at += n
    return out
'''

OURS_STREAM = f'''"""batch_bench: a generator of {STREAM_ITEMS} items {STREAM_GAP_MS} ms apart."""
import time

from hub import hub_handler


@hub_handler
def inference_handler(inputs, context):
    for i in range({STREAM_ITEMS}):
        if i:
            time.sleep({STREAM_GAP_MS / 1000})
        yield {{"token": i}}
'''


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def ours_api(
    ours: OursPlatform, name: str, main_py: str, runtime: dict, model_dir: Path,
    requirements: str, files=(),
) -> str:  # fmt: skip
    """Create and deploy one API on ours; its path on the gateway."""
    folder = ours.work / name
    ours.hub("init", name, "--template", "blank", "--dir", str(ours.work))
    src = folder / "src"
    shutil.copy(PEERS_DIR / "handlers.py", src / "bench_handlers.py")
    shutil.copy(PEERS_DIR / "torch_mlp.py", src / "torch_mlp.py")
    (src / "main.py").write_text(main_py)
    (src / "requirements.txt").write_text(requirements)
    for file in files:
        shutil.copy(model_dir / file, folder / "model" / file)
    config_path = folder / "hub_config.json"
    config = json.loads(config_path.read_text())
    config.setdefault("runtime", {}).update(runtime)
    config_path.write_text(json.dumps(config, indent=2))
    deployed = ours.result(ours.hub("build", "--deploy", str(folder))).get("deploy") or {}
    endpoint = deployed.get("endpoint", "")
    if deployed.get("api") != name or endpoint.count("/") < 3:
        raise BenchError(f"hub build --deploy did not deploy {name}: {deployed}")
    return "/" + endpoint.split("/", 3)[3]


def requirements_of(model: str, peers_python: Path) -> str:
    """The API's requirements.txt: the versions the peers run (torch's from the peers' venv)."""
    if model == "sklearn":
        import joblib
        import numpy
        import sklearn

        return (
            f"scikit-learn=={sklearn.__version__}\njoblib=={joblib.__version__}\n"
            f"numpy=={numpy.__version__}\n"
        )
    import subprocess

    version = subprocess.run(
        [str(peers_python), "-c", "import importlib.metadata as m; print(m.version('torch'))"],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    if not version:
        raise BenchError(
            f"the peers' Python {peers_python} has no torch: bench/run.sh installs it from "
            "bench/peers/requirements-peers.txt (or run with --models sklearn)."
        )
    return f"torch=={version}\n"


def start_litserve(python: Path, mode: str, model_dir: Path, model: str = "sklearn") -> Server:
    port = free_port()
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_MODEL": model,
        "BENCH_MODEL_DIR": str(model_dir),
        "BENCH_STREAM_ITEMS": str(STREAM_ITEMS),
        "BENCH_STREAM_GAP_MS": str(STREAM_GAP_MS),
        "PYTHONUNBUFFERED": "1",
    }
    return _start(python, ["litserve_batch_app.py", str(port)], env, port, "/health", mode)


def start_bentoml_batched(python: Path, model_dir: Path, model: str = "sklearn") -> Server:
    port = free_port()
    env = {
        **os.environ,
        "BENCH_MODEL_DIR": str(model_dir),
        "BENTOML_HOME": str(model_dir.parent / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    service = "BatchedMLP" if model == "torch" else "BatchedIris"
    argv = ["-m", "bentoml", "serve", f"bentoml_batch_service:{service}", "--host", "127.0.0.1"]
    return _start(python, [*argv, "--port", str(port)], env, port, "/readyz", "batched")


def _start(python, argv, env, port, health, config) -> Server:
    import subprocess

    log_path = Path(tempfile.gettempdir()) / f"batch-bench-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(python), *argv], cwd=PEERS_DIR, env=env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = Server("peer", config, "sklearn", port, "/predict", {}, "", roots=[proc.pid])
    try:
        wait_ready(port, health, proc, log_path, {})
    except BaseException:
        stop_tree([proc.pid])
        raise
    return server


def throughput(wrk, server: Server, body_file: Path, concurrency: list[int], seconds: int):
    url = f"http://127.0.0.1:{server.port}{server.path}"
    # A first call (a lazy worker loads the model), then a short warm-up run under load (ours
    # starts its second worker then), so the measured runs see every worker warm.
    headers = {"Content-Type": "application/json"}
    if server.api_key:
        headers["x-api-key"] = server.api_key
    httpx.post(url, content=body_file.read_bytes(), headers=headers, timeout=120)
    run_wrk(wrk, url, body_file, 16, 2, False, server.api_key)
    cells = {}
    for c in concurrency:
        result = run_wrk(wrk, url, body_file, c, seconds, False, server.api_key)
        result["load_average"] = load_average()
        cells[str(c)] = result
    return cells


def first_bytes(url: str, headers: dict, body: str, calls: int) -> dict:
    """Seconds to the first byte of the body and to its end, over sequential streamed calls."""
    firsts, totals = [], []
    with httpx.Client(timeout=20) as client:
        for i in range(calls + 2):
            started = time.perf_counter()
            with client.stream("POST", url, headers=headers, content=body) as resp:
                if resp.status_code != 200:
                    raise BenchError(f"{url} answered {resp.status_code}: {resp.read()[:300]!r}")
                chunks = resp.iter_raw()
                next(chunks)
                first = time.perf_counter() - started
                received = b"".join(chunks)
            total = time.perf_counter() - started
            if i >= 2:  # two warm-up calls
                firsts.append(first * 1000)
                totals.append(total * 1000)
    del received
    return {
        "calls": calls,
        "ttfb_p50_ms": round(statistics.median(firsts), 2),
        "ttfb_max_ms": round(max(firsts), 2),
        "total_p50_ms": round(statistics.median(totals), 2),
    }


def ratio(a, b):
    return round(a / b, 2) if a and b else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--models", default="sklearn,torch", help="sklearn, torch or both")
    parser.add_argument("--stream-calls", type=int, default=30)
    parser.add_argument("--peers-python", type=Path, default=DEFAULT_PEERS_PYTHON)
    parser.add_argument("--json-out", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    concurrency = [int(c) for c in args.concurrency.split(",")]
    models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise SystemExit(f"Unknown model {unknown[0]!r} in --models: use sklearn, torch or both.")
    if not Path(args.peers_python).exists():
        raise SystemExit(
            f"No peers' Python at {args.peers_python}; bench/run.sh installs it (or pass "
            "--peers-python)."
        )
    wrk = ensure_wrk(install=False)
    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    model_dirs = {m: work / f"model-{m}" for m in models}
    import subprocess

    import train_model

    for model, folder in model_dirs.items():
        if model == "sklearn":
            train_model.train(str(folder))
            continue
        made = subprocess.run(
            [str(args.peers_python), str(PEERS_DIR / "torch_mlp.py"), str(folder)],
            capture_output=True, text=True,
        )  # fmt: skip
        if made.returncode != 0:
            print(f"[batch] the torch model was not made: {made.stderr[-400:]}", file=sys.stderr)
    bodies = {}
    for model in models:
        bodies[model] = work / f"body-{model}.json"
        bodies[model].write_text(MODELS[model]["body"])
    out: dict = {
        "bench": "batch_bench",
        "seconds_per_run": args.seconds,
        "concurrency": concurrency,
        "cpus": os.cpu_count(),
        "load_average_start": load_average(),
        "models": {m: {"body": MODELS[m]["body"], "throughput": {}, "errors": {}} for m in models},
    }

    def record(model: str, name: str, measure) -> None:
        """Measure one system for one model; a failure is kept as that row's error."""
        print(f"[batch] {model} {name}", file=sys.stderr, flush=True)
        try:
            out["models"][model]["throughput"][name] = measure()
        except (BenchError, httpx.HTTPError, OSError) as err:
            out["models"][model]["errors"][name] = str(err)[-600:] or type(err).__name__
            print(f"[batch] {model} {name} failed: {err}", file=sys.stderr, flush=True)

    servers: list[Server] = []
    ours = OursPlatform(work / "ours", model_dirs.get("sklearn") or work / "model-none")
    workers = {"min_workers": 1, "max_workers": 2}
    try:
        ours.platform_start()
        paths: dict = {}
        for model in models:
            spec = MODELS[model]
            try:
                requirements = requirements_of(model, args.peers_python)
                for kind, template in (("unbatched", OURS_UNBATCHED), ("batched", OURS_BATCHED)):
                    started = time.perf_counter()
                    paths[(model, kind)] = ours_api(
                        ours, f"{model}-{kind}", template.format(model=model, loader=spec["loader"]),
                        workers, model_dirs[model], requirements, spec["files"],
                    )  # fmt: skip
                    out["models"][model].setdefault("ours_build_deploy_s", {})[kind] = round(
                        time.perf_counter() - started, 1
                    )
            except BenchError as err:
                out["models"][model]["errors"]["ours"] = str(err)[-600:]
                print(f"[batch] ours {model} not deployed: {err}", file=sys.stderr, flush=True)
        stream_path = ours_api(ours, "stream", OURS_STREAM, {"min_workers": 1}, work, "", ())
        ours.key = ours.result(ours.hub("keys", "reveal", "default")).get("secret")
        # One call to every API before any is measured, so that no worker is still loading
        # (torch's imports take seconds) while another API is measured.
        for (model, _kind), path in paths.items():
            httpx.post(
                f"http://127.0.0.1:{ours.port}{path}",
                content=bodies[model].read_bytes(),
                headers={"x-api-key": ours.key, "Content-Type": "application/json"},
                timeout=300,
            )
        for model in models:
            for kind in ("unbatched", "batched"):
                if (model, kind) not in paths:
                    continue
                server = Server("ours", kind, model, ours.port, paths[(model, kind)], {}, "")
                server.api_key = ours.key
                record(
                    model, f"ours_{kind}",
                    lambda s=server, m=model: throughput(
                        wrk, s, bodies[m], concurrency, args.seconds
                    ),
                )  # fmt: skip
        url = f"http://127.0.0.1:{ours.port}{stream_path}"
        headers = {
            "x-api-key": ours.key,
            "Accept": "text/event-stream",
            "Content-Type": "application/json",
        }
        out["stream_ours"] = first_bytes(url, headers, '{"n": 1}', args.stream_calls)
        ours.platform_stop()

        for model in models:
            folder = model_dirs[model]
            peers = {
                "bentoml_unbatched": lambda m=model, f=folder: start_peer(
                    "bentoml", "tuned", m, args.peers_python, f
                ),
                "bentoml_batched": lambda m=model, f=folder: start_bentoml_batched(
                    args.peers_python, f, m
                ),
                "litserve_unbatched": lambda m=model, f=folder: start_peer(
                    "litserve", "tuned", m, args.peers_python, f
                ),
                "litserve_batched": lambda m=model, f=folder: start_litserve(
                    args.peers_python, "batch", f, m
                ),
            }
            for name, start in peers.items():

                def measure(start=start, model=model):
                    server = start()
                    servers.append(server)
                    try:
                        return throughput(wrk, server, bodies[model], concurrency, args.seconds)
                    finally:
                        server.stop()
                        servers.remove(server)

                record(model, name, measure)
        server = start_litserve(args.peers_python, "stream", work)
        servers.append(server)
        url = f"http://127.0.0.1:{server.port}/predict"
        # (Without a Content-Type, LitServe 0.2.19 never answers a streaming request.)
        headers = {"Content-Type": "application/json"}
        try:
            out["stream_litserve"] = first_bytes(url, headers, '{"inputs": 1}', args.stream_calls)
        except (BenchError, httpx.HTTPError) as err:  # keep the throughput figures
            out["stream_litserve"] = {"error": str(err) or type(err).__name__}
    finally:
        for server in servers:
            server.stop()
        ours.close()
    for model in models:
        t = out["models"][model]["throughput"]
        ratios = out["models"][model]["ratios"] = {}
        for c in map(str, concurrency):
            rps = {name: cells[c]["rps"] for name, cells in t.items() if c in cells}
            ratios[f"c{c}"] = {
                f"{a}_vs_{b}": ratio(rps.get(a), rps.get(b))
                for a, b in (
                    ("ours_batched", "ours_unbatched"),
                    ("ours_batched", "bentoml_batched"),
                    ("ours_batched", "litserve_batched"),
                    ("bentoml_batched", "bentoml_unbatched"),
                    ("litserve_batched", "litserve_unbatched"),
                )
            }
    out["stream_ttfb_ours_vs_litserve"] = ratio(
        out["stream_ours"].get("ttfb_p50_ms"), out["stream_litserve"].get("ttfb_p50_ms")
    )
    out["load_average_end"] = load_average()
    text = json.dumps(out, indent=2)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
