"""The Ray engine against plain Ray Serve, on one local Ray cluster, in one run.

    python bench/ray_bench.py [--json-out FILE] [--seconds 5] [--replicas 3]

- **overhead**: the same echo handler behind HTTP, (a) ours: uvicorn + Starlette calling
  ``RayEngine.invoke`` (a Serve handle to a replica that owns one ``hub._worker``), (b) plain
  Ray Serve: a deployment whose ``__call__`` echoes the body, reached through Serve's own HTTP
  proxy. One replica each; wrk at 1 and 8 connections; requests/s, p50/p99, ours/plain ratio.
- **cold start from zero**: a version with ``min_workers`` 0 deployed, then its first call timed
  (Serve starts a replica, ours also starts the worker and imports main.py); plain Serve with
  ``min_replicas`` 0 timed the same way over HTTP.
- **scale-up**: ours with 1 to N replicas, a 50 ms handler under 2N concurrent callers: how long
  until N replicas run, and calls/s in the first and the last seconds.

The cluster is the tests' (tests/ray_cluster.py: 127.0.0.1 only, started and stopped here).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

ECHO = """from hub import hub_handler

@hub_handler
def inference_handler(inputs, context):
    return inputs
"""

SLOW = """import time
from hub import hub_handler

@hub_handler
def inference_handler(inputs, context):
    time.sleep(0.05)
    return inputs
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def project(root: Path, main_py: str) -> tuple[Path, Path]:
    (root / "src").mkdir(parents=True)
    (root / "model").mkdir()
    (root / "src" / "main.py").write_text(main_py)
    return root / "src", root / "model"


def spec(version_id: str, src: Path, model: Path, runtime: Path, **options):
    from jupyter_hub_api.platform.engines import VersionSpec

    options.setdefault("memory_mb", 0)
    return VersionSpec(
        version_id=version_id,
        api=f"bench/{version_id.split(':')[0]}",
        src_dir=src,
        model_dir=model,
        python=Path(sys.executable),
        env={"PYTHONPATH": str(runtime)},
        **options,
    )


def serve_ours(port: int, address: str, src: Path, model: Path, runtime: Path) -> None:
    """The child process of (a): an HTTP server calling the Ray engine."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from jupyter_hub_api.platform.engines.ray import RayEngine

    engine = RayEngine(address=address, read_only_paths=[runtime])
    version = spec("ours:echo", src, model, runtime, min_workers=1, max_workers=1)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await engine.start()
        await engine.deploy(version)
        await engine.warm(version.version_id)
        yield
        await engine.stop()

    async def endpoint(request):
        result = await engine.invoke(version.version_id, await request.body(), uuid.uuid4().hex)
        return Response(result.output_json, media_type="application/json")

    async def ready(request):
        return Response(b"ok")

    app = Starlette(
        routes=[Route("/ours", endpoint, methods=["POST"]), Route("/ready", ready)],
        lifespan=lifespan,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def wrk(url: str, connections: int, seconds: float, body_file: Path) -> dict:
    """One wrk run; its JSON line (requests, latency percentiles in µs)."""
    threads = min(connections, 2)
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(REPO / "bench" / "wrk_post.lua"),
            url,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_BODY_FILE": str(body_file)},
        timeout=seconds + 120,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed (exit {done.returncode}): {done.stderr[-300:]}")
    raw = json.loads(line[len("BENCH_JSON ") :])
    errors = sum(raw["errors"].values())
    return {
        # Answered calls only: a non-2xx answer is an error, not throughput.
        "rps": round((raw["requests"] - raw["errors"]["status"]) / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["latency_us"]["p50"] / 1000, 2),
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 2),
        "errors": errors,
    }


def wait_http(url: str, child: subprocess.Popen, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the server of {url} exited (code {child.returncode})")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def overhead(address, http_port, work, runtime, seconds) -> list[dict]:
    import httpx
    from ray import serve

    @serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 1})
    class PlainEcho:
        async def __call__(self, request):
            from starlette.responses import Response

            return Response(await request.body(), media_type="application/json")

    serve.run(PlainEcho.bind(), name="plain-echo", route_prefix="/plain")
    src, model = project(work / "echo", ECHO)
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-ours", str(port), "--address", address]
        + ["--src", str(src), "--model", str(model), "--runtime", str(runtime)],
        stdout=subprocess.DEVNULL,
        stderr=open(work / "ours-server.log", "wb"),
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", child)
        body = work / "body.json"
        body.write_text(json.dumps({"text": "I loved this movie"}))
        ours_url, plain_url = f"http://127.0.0.1:{port}/ours", f"http://127.0.0.1:{http_port}/plain"
        for url in (ours_url, plain_url):  # both answer before measuring
            assert httpx.post(url, content=body.read_bytes(), timeout=60).status_code == 200
        rows = []
        for connections in (1, 8):
            ours = wrk(ours_url, connections, seconds, body)
            plain = wrk(plain_url, connections, seconds, body)
            rows.append(
                {
                    "connections": connections,
                    "ours_rps": ours["rps"],
                    "plain_serve_rps": plain["rps"],
                    "ours_p50_ms": ours["p50_ms"],
                    "plain_p50_ms": plain["p50_ms"],
                    "ours_p99_ms": ours["p99_ms"],
                    "plain_p99_ms": plain["p99_ms"],
                    "p50_ratio": round(ours["p50_ms"] / plain["p50_ms"], 2),
                    "rps_ratio": round(ours["rps"] / plain["rps"], 2),
                    "errors": ours["errors"] + plain["errors"],
                }
            )
        return rows
    finally:
        child.terminate()
        child.wait(60)
        serve.delete("plain-echo")


async def cold_ours(engine, work, runtime, rounds) -> list[float]:
    times = []
    for n in range(rounds):
        src, model = project(work / f"cold{n}", ECHO)
        version = spec(f"cold{n}:v", src, model, runtime, min_workers=0, max_workers=1)
        await engine.deploy(version)
        started = time.perf_counter()
        result = await engine.invoke(version.version_id, b'"hi"', "cold")
        assert result.ok, result
        times.append(time.perf_counter() - started)
        await engine.undeploy(version.version_id)
    return times


def cold_plain(http_port, rounds) -> list[float]:
    import httpx
    from ray import serve

    @serve.deployment(
        ray_actor_options={"num_cpus": 1},
        autoscaling_config={"min_replicas": 0, "max_replicas": 1, "target_ongoing_requests": 1},
    )
    class PlainCold:
        async def __call__(self, request):
            return await request.json()

    times = []
    for n in range(rounds):
        serve.run(PlainCold.bind(), name=f"plain-cold{n}", route_prefix=f"/cold{n}")
        started = time.perf_counter()
        resp = httpx.post(f"http://127.0.0.1:{http_port}/cold{n}", json="hi", timeout=300)
        assert resp.status_code == 200, resp.text
        times.append(time.perf_counter() - started)
        serve.delete(f"plain-cold{n}")
    return times


async def scale_up(engine, work, runtime, replicas) -> dict:
    from ray import serve

    src, model = project(work / "slow", SLOW)
    version = spec("scale:v", src, model, runtime, min_workers=1, max_workers=replicas)
    await engine.deploy(version)
    await engine.warm(version.version_id)
    app = engine.versions_[version.version_id].app
    done: list[float] = []
    stop = False

    async def caller():
        while not stop:
            result = await engine.invoke(version.version_id, b"1", "scale")
            if result.ok:
                done.append(time.perf_counter())

    started = time.perf_counter()
    callers = [asyncio.ensure_future(caller()) for _ in range(2 * replicas)]
    reached = None
    seen = []
    while time.perf_counter() - started < 120:
        await asyncio.sleep(0.5)
        states = await asyncio.to_thread(
            lambda: serve.status().applications[app].deployments["hub"].replica_states
        )
        running = states.get("RUNNING", 0)
        seen.append((round(time.perf_counter() - started, 1), running))
        if running >= replicas and reached is None:
            reached = time.perf_counter() - started
        if reached is not None and time.perf_counter() - started > reached + 5:
            break
    stop = True
    await asyncio.gather(*callers)
    end = time.perf_counter()
    first = sum(1 for t in done if t - started < 3) / 3
    last = sum(1 for t in done if end - t < 3) / 3
    await engine.undeploy(version.version_id)
    return {
        "replicas": replicas,
        "callers": 2 * replicas,
        "handler_ms": 50,
        "seconds_to_all_replicas": round(reached, 1) if reached else None,
        "calls_per_s_first_3s": round(first, 1),
        "calls_per_s_last_3s": round(last, 1),
        "replicas_over_time": " ".join(f"{t}s:{r}" for t, r in seen[:: max(len(seen) // 12, 1)]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json-out")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-ours", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--runtime", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_ours:
        serve_ours(
            args.serve_ours, args.address, Path(args.src), Path(args.model), Path(args.runtime)
        )
        return 0

    from ray_cluster import ray_cluster

    work = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    os.environ["HUB_HOME"] = str(work / "hub-home")
    runtime = work / "runtime"
    shutil.copytree(REPO / "hub", runtime / "hub", ignore=shutil.ignore_patterns("__pycache__"))
    result: dict = {"load_before": [round(x, 2) for x in os.getloadavg()]}
    try:
        t0 = time.perf_counter()
        with ray_cluster() as address:
            # After the cluster started (its own processes, the plain Serve proxy among them,
            # keep Serve's defaults) and before Serve is imported here (ours gets its tuning).
            import jupyter_hub_api.platform.engines.ray as ray_engine  # noqa: I001 - first
            from ray import serve

            result["cluster_start_seconds"] = round(time.perf_counter() - t0, 1)
            http_port = free_port()
            serve.start(http_options={"host": "127.0.0.1", "port": http_port})
            result["overhead"] = overhead(address, http_port, work, runtime, args.seconds)

            async def engine_parts():
                engine = ray_engine.RayEngine(address=address, read_only_paths=[runtime])
                await engine.start()
                try:
                    cold = await cold_ours(engine, work, runtime, args.rounds)
                    scale = await scale_up(engine, work, runtime, args.replicas)
                finally:
                    await engine.stop()
                return cold, scale

            cold, scale = asyncio.run(engine_parts())
            plain = cold_plain(http_port, args.rounds)
            result["cold_start"] = [
                {
                    "what": "ours (replica + worker + import)",
                    "median_s": round(statistics.median(cold), 2),
                    "all_s": " ".join(f"{t:.2f}" for t in cold),
                },
                {
                    "what": "plain Ray Serve (replica)",
                    "median_s": round(statistics.median(plain), 2),
                    "all_s": " ".join(f"{t:.2f}" for t in plain),
                },
            ]
            result["scale_up"] = [scale]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, indent=1)
    if args.json_out:
        Path(args.json_out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
