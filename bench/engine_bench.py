"""Benchmark of the local engine: what running a handler in a worker process costs.

    python bench/engine_bench.py [--requests 3000] [--asyncio] [--sandbox auto|off]
                                 [--memory-mb N] [--json] [--json-out FILE]

For an echo handler and a small scikit-learn model (trained on the spot), it reports:

- invoke latency p50/p99 through the engine, against calling the handler in-process (with the
  same JSON decode of the request and encode of the answer), and the difference: what the engine
  adds;
- throughput (requests/s) at concurrency 1, 16 and 64 with max_workers 1 and 2;
- cold start: from the waking request to its answer, beyond the handler's own import time.

``--sandbox off`` runs the workers without bubblewrap and ``--memory-mb`` sets every version's
memory limit (0: none, so no watchdog), to measure what each costs.

Figures depend on the machine; run everything in one go so they compare.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jupyter_hub_api.platform.engines import VersionSpec  # noqa: E402
from jupyter_hub_api.platform.engines.local import LocalEngine  # noqa: E402

ECHO = """
from hub import hub_handler

@hub_handler
def inference_handler(inputs, context):
    return inputs
"""

SKLEARN = """
import os, pickle
from hub import hub_handler

with open(os.path.join(os.environ["MODEL_DIR"], "model.pkl"), "rb") as f:
    model = pickle.load(f)

@hub_handler
def inference_handler(inputs, context):
    return model.predict_proba(inputs).round(4).tolist()
"""


def make_project(root: Path, name: str, main_py: str) -> tuple[Path, Path]:
    src, model = root / name / "src", root / name / "model"
    src.mkdir(parents=True)
    model.mkdir()
    (src / "main.py").write_text(textwrap.dedent(main_py))
    if name == "sklearn":
        from sklearn.datasets import make_classification
        from sklearn.linear_model import LogisticRegression

        x, y = make_classification(n_samples=500, n_features=8, n_classes=3, n_informative=4)
        with open(model / "model.pkl", "wb") as f:
            pickle.dump(LogisticRegression(max_iter=500).fit(x, y), f)
    return src, model


def load_in_process(src: Path, model: Path, name: str):
    """Import the project's main.py here, as a bare server would; return its handler."""
    os.environ["MODEL_DIR"] = str(model)
    import hub

    before = len(hub.registered_handlers())
    spec = importlib.util.spec_from_file_location(f"bench_main_{name}", src / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return hub.registered_handlers()[before]


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return (
        samples[len(samples) // 2],
        samples[min(len(samples) - 1, int(len(samples) * 0.99))],
    )


def in_process_latency(handler, body: bytes, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        json.dumps(handler(json.loads(body), None), separators=(",", ":")).encode()
        out.append((time.perf_counter() - t) * 1e6)
    return out


async def engine_latency(engine, version_id: str, body: bytes, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        result = await engine.invoke(version_id, body, f"lat-{i}")
        out.append((time.perf_counter() - t) * 1e6)
        assert result.status == "ok", result
    return out


async def throughput(engine, version_id: str, body: bytes, concurrency: int, n: int) -> float:
    remaining = n

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            result = await engine.invoke(version_id, body, "tp")
            assert result.status == "ok", result

    t = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return n / (time.perf_counter() - t)


async def cold_start(engine, spec: VersionSpec, body: bytes, rounds: int) -> tuple[float, float]:
    """Median (total, beyond import) milliseconds of a waking request."""
    totals, beyond = [], []
    for i in range(rounds):
        spec.version_id = f"cold-{spec.api}-{i}"
        await engine.deploy(spec)
        t = time.perf_counter()
        result = await engine.invoke(spec.version_id, body, "cold")
        total = (time.perf_counter() - t) * 1000
        assert result.status == "ok" and result.cold_start, result
        pool = engine.pools[spec.version_id]
        totals.append(total)
        beyond.append(total - pool.last_import_seconds * 1000)
        await engine.undeploy(spec.version_id)
    return statistics.median(totals), statistics.median(beyond)


async def run(args) -> dict:
    root = Path(tempfile.mkdtemp(prefix="hub-engine-bench-"))
    runtime = root / "runtime"
    shutil.copytree(REPO / "hub", runtime / "hub", ignore=shutil.ignore_patterns("__pycache__"))
    report: dict = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "cases": {}}
    # The runtime folder is under /tmp, which a sandboxed worker does not see: shown read-only.
    sandbox = None if args.sandbox == "auto" else False
    engine = LocalEngine(sandbox=sandbox, read_only_paths=[runtime])
    await engine.start()
    report["sandbox"] = engine.sandbox.active
    report["memory_mb"] = args.memory_mb
    try:
        for name, main_py, body in (
            ("echo", ECHO, json.dumps({"text": "hello world", "n": [1, 2, 3]}).encode()),
            ("sklearn", SKLEARN, json.dumps([[0.1 * i for i in range(8)]] * 4).encode()),
        ):
            src, model = make_project(root, name, main_py)
            handler = load_in_process(src, model, name)
            case: dict = {}
            for workers in (1, 2):
                spec = VersionSpec(
                    version_id=f"{name}-{workers}",
                    api=f"bench/{name}",
                    src_dir=src,
                    model_dir=model,
                    python=Path(sys.executable),
                    env={"PYTHONPATH": str(runtime), "OMP_NUM_THREADS": "1"},
                    max_workers=workers,
                    timeout_seconds=30,
                    memory_mb=args.memory_mb,
                )
                await engine.deploy(spec)
                await engine.warm(spec.version_id)
                if workers == 1:
                    await engine_latency(engine, spec.version_id, body, 200)  # warm-up
                    # In alternating blocks, so that the machine's background load (other
                    # jobs) weighs on both alike.
                    in_proc, lat = [], []
                    for _ in range(max(1, args.requests // 100)):
                        in_proc += in_process_latency(handler, body, 100)
                        lat += await engine_latency(engine, spec.version_id, body, 100)
                    case["in_process_us"] = dict(
                        zip(("p50", "p99"), percentiles(in_proc), strict=True)
                    )
                    p50, p99 = percentiles(lat)
                    case["engine_us"] = {"p50": p50, "p99": p99}
                    case["added_us"] = {
                        "p50": p50 - case["in_process_us"]["p50"],
                        "p99": p99 - case["in_process_us"]["p99"],
                    }
                for concurrency in (1, 16, 64):
                    # Fill the pool first so the figure is steady state, not a cold start.
                    await throughput(engine, spec.version_id, body, concurrency, 200)
                    rps = await throughput(
                        engine, spec.version_id, body, concurrency, args.requests
                    )
                    case[f"rps_workers{workers}_c{concurrency}"] = round(rps)
                await engine.undeploy(spec.version_id)
            t = time.perf_counter()
            for _ in range(args.requests):
                json.dumps(handler(json.loads(body), None)).encode()
            case["rps_in_process_sequential"] = round(args.requests / (time.perf_counter() - t))
            cold_spec = VersionSpec(
                version_id="cold",
                api=f"bench/{name}",
                src_dir=src,
                model_dir=model,
                python=Path(sys.executable),
                env={"PYTHONPATH": str(runtime), "OMP_NUM_THREADS": "1"},
                memory_mb=args.memory_mb,
            )
            total, beyond = await cold_start(engine, cold_spec, body, args.cold_rounds)
            case["cold_start_ms"] = {"total": total, "beyond_import": beyond}
            report["cases"][name] = case
    finally:
        await engine.stop()
        shutil.rmtree(root, ignore_errors=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per measurement")
    parser.add_argument("--cold-rounds", type=int, default=5, help="cold starts to measure")
    parser.add_argument(
        "--asyncio",
        action="store_true",
        help="run the engine on asyncio's own loop (default: uvloop, as the platform under uvicorn)",
    )
    parser.add_argument(
        "--sandbox", choices=("auto", "off"), default="auto", help="workers in bubblewrap"
    )
    parser.add_argument("--memory-mb", type=int, default=0, help="memory limit of each version")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line")
    parser.add_argument("--json-out", type=Path, help="also write the report to this JSON file")
    args = parser.parse_args()
    args.uvloop = False
    if not args.asyncio:
        try:
            import uvloop

            uvloop.install()
            args.uvloop = True
        except ImportError:
            pass
    report = asyncio.run(run(args))
    report["loop"] = "uvloop" if args.uvloop else "asyncio"
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=1))
    if args.json:
        print(json.dumps(report))
        return
    print(
        f"Python {report['python']}, {report['cpus']} CPUs, loop: {'uvloop' if args.uvloop else 'asyncio'}"
    )
    for name, case in report["cases"].items():
        print(f"\n== {name}")
        inp, eng, add = case["in_process_us"], case["engine_us"], case["added_us"]
        print(f"latency  in-process p50 {inp['p50']:8.1f} us  p99 {inp['p99']:8.1f} us")
        print(f"latency  engine     p50 {eng['p50']:8.1f} us  p99 {eng['p99']:8.1f} us")
        print(f"added by the engine p50 {add['p50']:8.1f} us  p99 {add['p99']:8.1f} us")
        print(f"throughput in-process (sequential): {case['rps_in_process_sequential']} req/s")
        for workers in (1, 2):
            row = "  ".join(
                f"c={c}: {case[f'rps_workers{workers}_c{c}']:>6} req/s" for c in (1, 16, 64)
            )
            print(f"throughput max_workers={workers}: {row}")
        cold = case["cold_start_ms"]
        print(
            f"cold start: {cold['total']:.1f} ms to the first answer, "
            f"{cold['beyond_import']:.1f} ms beyond the handler's import"
        )


if __name__ == "__main__":
    main()
