"""Batching and streaming against the peers, in one run (issue 16, items 1 and 2).

    python bench/batch_bench.py [--seconds 5] [--concurrency 16,64] [--json-out FILE]
                                [--peers-python .work/bench-peers/venv/bin/python]

Throughput (wrk, closed loop, every system on this machine, unpinned): the iris logistic
regression of bench/peers/train_model.py, one row per request (``{"inputs": [[5.1, 3.5, 1.4,
0.2]]}``), at each concurrency, for

- ours unbatched: ``@hub_handler``, min_workers 1, max_workers 2 (serving.py's tuned ours);
- ours batched: ``@hub_handler(batch=True, max_batch_size=32, max_wait_ms=5)``, the same
  workers; the rows of the requests of a batch are predicted with one ``model.predict``;
- BentoML unbatched (serving.py's tuned: 2 workers, 4 threads) and batched
  (``@bentoml.api(batchable=True, max_batch_size=32)``, 2 workers);
- LitServe unbatched (serving.py's tuned: 2 workers, fast queue) and batched
  (``LitAPI(max_batch_size=32, batch_timeout=0.005)``, 2 workers).

Ours goes through the whole platform: key check, quota and rate limit (a plan without limits),
metering committed before each answer. Streaming: time to first byte and to the last byte of a
generator that yields 8 items 20 ms apart (the first at once), ours as Server-Sent Events
(``Accept: text/event-stream``) against LitServe's ``stream=True``, sequential calls. Figures
are ratios against the peers measured in the same run, one system after another: each wrk cell
records the load average, so compare where the loads were alike.
No torch model: the peers' venv (bench/peers/requirements-peers.txt) has no torch, and a CPU
torch install is a large download on this machine, so only sklearn is measured.
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

BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'
STREAM_ITEMS, STREAM_GAP_MS = 8, 20

OURS_UNBATCHED = '''"""batch_bench: iris, one request per call."""
import os

import bench_handlers
from hub import hub_handler

predict_rows = bench_handlers.make_sklearn(os.environ["MODEL_DIR"])


@hub_handler
def inference_handler(inputs, context):
    return predict_rows(inputs["inputs"])
'''

OURS_BATCHED = '''"""batch_bench: iris, the requests of a batch predicted together."""
import os

import bench_handlers
from hub import hub_handler

predict_rows = bench_handlers.make_sklearn(os.environ["MODEL_DIR"])


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


def ours_api(ours: OursPlatform, name: str, main_py: str, runtime: dict, model_dir: Path) -> str:
    """Create and deploy one API on ours; its path on the gateway."""
    folder = ours.work / name
    ours.hub("init", name, "--template", "blank", "--dir", str(ours.work))
    src = folder / "src"
    shutil.copy(PEERS_DIR / "handlers.py", src / "bench_handlers.py")
    (src / "main.py").write_text(main_py)
    import joblib
    import numpy
    import sklearn

    (src / "requirements.txt").write_text(
        f"scikit-learn=={sklearn.__version__}\njoblib=={joblib.__version__}\n"
        f"numpy=={numpy.__version__}\n"
    )
    shutil.copy(model_dir / "model.joblib", folder / "model" / "model.joblib")
    config_path = folder / "hub_config.json"
    config = json.loads(config_path.read_text())
    config.setdefault("runtime", {}).update(runtime)
    config_path.write_text(json.dumps(config, indent=2))
    deployed = ours.result(ours.hub("build", "--deploy", str(folder))).get("deploy") or {}
    endpoint = deployed.get("endpoint", "")
    if deployed.get("api") != name or endpoint.count("/") < 3:
        raise BenchError(f"hub build --deploy did not deploy {name}: {deployed}")
    return "/" + endpoint.split("/", 3)[3]


def start_litserve(python: Path, mode: str, model_dir: Path) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_MODEL_DIR": str(model_dir),
        "BENCH_STREAM_ITEMS": str(STREAM_ITEMS),
        "BENCH_STREAM_GAP_MS": str(STREAM_GAP_MS),
        "PYTHONUNBUFFERED": "1",
    }
    return _start(python, ["litserve_batch_app.py", str(port)], env, port, "/health", mode)


def start_bentoml_batched(python: Path, model_dir: Path) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "BENCH_MODEL_DIR": str(model_dir),
        "BENTOML_HOME": str(model_dir.parent / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    argv = ["-m", "bentoml", "serve", "bentoml_batch_service:BatchedIris", "--host", "127.0.0.1"]
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
    # One short warm-up run (the first calls load the model in lazy workers).
    run_wrk(wrk, url, body_file, 4, 1, False, server.api_key)
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
    parser.add_argument("--stream-calls", type=int, default=30)
    parser.add_argument("--peers-python", type=Path, default=DEFAULT_PEERS_PYTHON)
    parser.add_argument("--json-out", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    concurrency = [int(c) for c in args.concurrency.split(",")]
    if not Path(args.peers_python).exists():
        raise SystemExit(
            f"No peers' Python at {args.peers_python}; bench/run.sh installs it (or pass "
            "--peers-python)."
        )
    wrk = ensure_wrk(install=False)
    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    model_dir = work / "model"
    sys.path.insert(0, str(PEERS_DIR))
    import train_model

    train_model.train(str(model_dir))
    body_file = work / "body.json"
    body_file.write_text(BODY)
    out: dict = {
        "bench": "batch_bench",
        "body": BODY,
        "seconds_per_run": args.seconds,
        "cpus": os.cpu_count(),
        "load_average_start": load_average(),
        "throughput": {},
    }
    servers: list[Server] = []
    ours = OursPlatform(work / "ours", model_dir)
    try:
        ours.platform_start()
        workers = {"min_workers": 1, "max_workers": 2}
        paths = {
            "ours_unbatched": ours_api(ours, "iris-plain", OURS_UNBATCHED, workers, model_dir),
            "ours_batched": ours_api(ours, "iris-batched", OURS_BATCHED, workers, model_dir),
            "ours_stream": ours_api(ours, "stream", OURS_STREAM, {"min_workers": 1}, model_dir),
        }
        ours.key = ours.result(ours.hub("keys", "reveal", "default")).get("secret")
        for name in ("ours_unbatched", "ours_batched"):
            server = Server("ours", name, "sklearn", ours.port, paths[name], {}, "")
            server.api_key = ours.key
            out["throughput"][name] = throughput(wrk, server, body_file, concurrency, args.seconds)
        url = f"http://127.0.0.1:{ours.port}{paths['ours_stream']}"
        headers = {
            "x-api-key": ours.key,
            "Accept": "text/event-stream",
            "Content-Type": "application/json",
        }
        out["stream_ours"] = first_bytes(url, headers, '{"n": 1}', args.stream_calls)
        ours.platform_stop()

        peers = {
            "bentoml_unbatched": lambda: start_peer(
                "bentoml", "tuned", "sklearn", args.peers_python, model_dir
            ),
            "bentoml_batched": lambda: start_bentoml_batched(args.peers_python, model_dir),
            "litserve_unbatched": lambda: start_peer(
                "litserve", "tuned", "sklearn", args.peers_python, model_dir
            ),
            "litserve_batched": lambda: start_litserve(args.peers_python, "batch", model_dir),
        }
        for name, start in peers.items():
            server = start()
            servers.append(server)
            try:
                out["throughput"][name] = throughput(
                    wrk, server, body_file, concurrency, args.seconds
                )
            finally:
                server.stop()
                servers.remove(server)
        server = start_litserve(args.peers_python, "stream", model_dir)
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
    t = out["throughput"]
    out["ratios"] = {}
    for c in map(str, concurrency):
        rps = {name: cells[c]["rps"] for name, cells in t.items()}
        out["ratios"][f"c{c}"] = {
            "ours_batched_vs_unbatched": ratio(rps["ours_batched"], rps["ours_unbatched"]),
            "ours_batched_vs_bentoml_batched": ratio(rps["ours_batched"], rps["bentoml_batched"]),
            "ours_batched_vs_litserve_batched": ratio(rps["ours_batched"], rps["litserve_batched"]),
            "bentoml_batched_vs_unbatched": ratio(rps["bentoml_batched"], rps["bentoml_unbatched"]),
            "litserve_batched_vs_unbatched": ratio(
                rps["litserve_batched"], rps["litserve_unbatched"]
            ),
        }
    out["ratios"]["stream_ttfb_ours_vs_litserve"] = ratio(
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
