"""The serving comparison: the same handlers served by each system, loaded by wrk.

For every system (the bare uvicorn + Starlette limit, LitServe, BentoML, ours through the real
gateway), configuration (its defaults, and tuned), handler (echo, sklearn, sleep) and CPU
placement (unpinned, or server on core 0 and wrk on core 1), it starts the server, measures the
time from start to ready and the first (cold) request, then runs closed-loop load at each
concurrency ``--runs`` times and keeps every run, with the server's memory (RSS summed over its
process tree) sampled during the load. One JSON document goes to ``--out``.

    python bench/serving.py --out .work/bench/serving.json            # the full plan
    python bench/serving.py --tiny --out /tmp/s.json                   # bare limit, 1 s, c=1

The peers run from their own virtual environment (``--peers-python``, made by bench/run.sh); ours
runs from the product's environment (the ``hub`` next to this Python).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
PEERS_DIR = HERE / "peers"
REPO = HERE.parent
DEFAULT_PEERS_PYTHON = REPO / ".work" / "bench-peers" / "venv" / "bin" / "python"
sys.path.insert(0, str(PEERS_DIR))
sys.path.insert(0, str(HERE))
import handlers as bench_handlers  # noqa: E402  (the payloads live beside the handlers)

SYSTEMS = ("bare", "litserve", "bentoml", "ours")
CONFIGS = ("default", "tuned")
READY_TIMEOUT = 180.0
SERVER_CORE, CLIENT_CORE = "0", "1"


class BenchError(Exception):
    """A server or the load generator could not do its part; the message says which and why."""


# --------------------------------------------------------------------------------------------
# Small helpers


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_call(
    port: int, method: str, path: str, body: bytes | None = None, headers=None, timeout=60.0
):
    """One HTTP request on a new connection; returns (status, body bytes, seconds)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - started
    finally:
        conn.close()


def process_tree(roots: list[int]) -> list[psutil.Process]:
    """The processes of ``roots`` and all their descendants that still exist."""
    found: dict[int, psutil.Process] = {}
    for pid in roots:
        try:
            proc = psutil.Process(pid)
            found[pid] = proc
            for child in proc.children(recursive=True):
                found[child.pid] = child
        except psutil.NoSuchProcess:
            continue
    return list(found.values())


def tree_rss_mb(roots: list[int]) -> float:
    """Resident memory of the process tree in MiB (shared pages are counted in each process)."""
    total = 0
    for proc in process_tree(roots):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return round(total / 2**20, 1)


def stop_tree(roots: list[int], grace: float = 8.0) -> None:
    """SIGTERM every process of the tree, then SIGKILL what is left after ``grace`` seconds."""
    procs = process_tree(roots)
    for proc in procs:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=3)


def summarise(values: list[float]) -> dict:
    """Median, min and max of a list of numbers (None when the list is empty)."""
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def pin_prefix(pinned: bool, core: str) -> list[str]:
    """``taskset -c core`` when pinning, else nothing."""
    return ["taskset", "-c", core] if pinned else []


# --------------------------------------------------------------------------------------------
# The load generator


def ensure_wrk(install: bool) -> str:
    """The path of wrk; installs Debian's package when missing and ``install`` is set (as root)."""
    path = shutil.which("wrk")
    if path:
        return path
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        done = subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"], env=env, capture_output=True
        )
        if done.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, capture_output=True)
        path = shutil.which("wrk")
        if path:
            return path
    raise BenchError("wrk is not installed: run `apt-get install -y wrk` (Debian) and try again.")


def wrk_version(wrk: str) -> str:
    """wrk's version line (it prints it with -v and exits 1)."""
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    return (
        (done.stdout or done.stderr).strip().splitlines()[0]
        if (done.stdout or done.stderr)
        else "wrk"
    )


def run_wrk(wrk, url, body_file, concurrency, duration, pinned, api_key=None) -> dict:
    """One closed-loop run of wrk; returns its counts and latency percentiles (ms)."""
    argv = pin_prefix(pinned, CLIENT_CORE) + [
        wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
        "-s", str(HERE / "wrk_post.lua"), url,
    ]  # fmt: skip
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file), "BENCH_API_KEY": api_key or ""}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration + 30)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(
            f"wrk failed (exit {done.returncode}): {(done.stderr or done.stdout)[-300:]}"
        )
    raw = json.loads(line[len("BENCH_JSON ") :])
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    ok = max(raw["requests"] - raw["errors"]["status"], 0)
    # Fewer answers than connections: the run was shorter than one round of calls, and the
    # percentiles would describe only the few calls that happened to finish (none: zeros).
    measured = raw["requests"] >= max(concurrency, 1)
    return {
        "requests": raw["requests"],
        "ok": ok,
        "errors": errors,
        "error_kinds": raw["errors"],
        "seconds": round(seconds, 3),
        # Throughput counts only answered, successful requests.
        "rps": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["latency_us"]["p50"] / 1000, 3) if measured else None,
        "p90_ms": round(raw["latency_us"]["p90"] / 1000, 3) if measured else None,
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 3) if measured else None,
        "max_ms": round(raw["latency_us"]["max"] / 1000, 3) if measured else None,
    }


class RssSampler:
    """Samples the server's tree RSS in the background while a run is under way; keeps the peak."""

    def __init__(self, roots_fn, every: float = 0.25) -> None:
        self.roots_fn = roots_fn
        self.every = every
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.roots_fn()))
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss_mb(self.roots_fn()))


# --------------------------------------------------------------------------------------------
# Servers


@dataclass
class Server:
    """A started server of one system: where to send requests and how to find its processes."""

    system: str
    config: str
    handler: str
    port: int
    path: str
    settings: dict
    description: str
    headers: dict = field(default_factory=dict)
    api_key: str | None = None
    roots: list[int] = field(default_factory=list)
    start_to_ready_s: float | None = None
    extra: dict = field(default_factory=dict)
    stop_fn: object = None
    roots_fn: object = None

    def pids(self) -> list[int]:
        """The root processes whose trees make up the server."""
        return self.roots_fn() if self.roots_fn else self.roots

    def stop(self) -> None:
        """Stop every process of the server."""
        roots = self.pids()
        try:
            if self.stop_fn:
                self.stop_fn()
        finally:
            stop_tree(roots)


def peer_plan(system: str, config: str, handler: str) -> tuple[list[str], dict, str, dict, str]:
    """How to start a peer: (argv tail, extra env, health path, settings, one-line description)."""
    sleep = handler == "sleep"
    if system == "bare":
        argv = ["-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1"]
        if config == "default":
            return (
                argv,
                {},
                "/health",
                {"workers": 1, "access_log": True},
                (
                    "uvicorn bare_app:app (1 process, access log on, sync handler in Starlette's "
                    "thread pool)"
                ),
            )
        tuned = ["--workers", "2", "--no-access-log", "--log-level", "warning"]
        if sleep:
            settings = {"workers": 2, "access_log": False, "inline": False}
            return (
                argv + tuned,
                {},
                "/health",
                settings,
                ("uvicorn --workers 2 --no-access-log, blocking handler in the thread pool"),
            )
        # A fast handler is cheaper called on the event loop than handed to a thread.
        settings = {"workers": 2, "access_log": False, "inline": True}
        return (
            argv + tuned,
            {"BARE_INLINE": "1"},
            "/health",
            settings,
            ("uvicorn --workers 2 --no-access-log, handler called inline on the event loop"),
        )
    if system == "litserve":
        argv = [str(PEERS_DIR / "litserve_app.py")]
        if config == "default":
            return (
                argv,
                {},
                "/health",
                {"workers_per_device": 1, "batching": "off"},
                ("LitServer(api, accelerator='cpu') at its defaults (1 worker, no batching)"),
            )
        workers = 16 if sleep else 2
        env = {
            "LITSERVE_WORKERS": str(workers),
            "LITSERVE_FAST_QUEUE": "1",
            "LITSERVE_TIMEOUT_OFF": "1",
            "LITSERVE_QUIET": "1",
        }
        settings = {
            "workers_per_device": workers,
            "fast_queue": True,
            "timeout": False,
            "batching": "off",
        }
        return (
            argv,
            env,
            "/health",
            settings,
            (f"workers_per_device={workers}, fast_queue=True (ZeroMQ), timeout=False, no batching"),
        )
    if system == "bentoml":
        argv = ["-m", "bentoml", "serve", "bentoml_service:BenchService", "--host", "127.0.0.1"]
        if config == "default":
            return (
                argv,
                {},
                "/readyz",
                {"workers": 1, "threads": 1},
                ("bentoml serve at its defaults (1 worker, 1 thread for sync APIs)"),
            )
        threads = 32 if sleep else 4
        env = {"BENTOML_BENCH_WORKERS": "2", "BENTOML_BENCH_THREADS": str(threads)}
        return (
            argv,
            env,
            "/readyz",
            {"workers": 2, "threads": threads},
            (f"@bentoml.service(workers=2, threads={threads})"),
        )
    raise ValueError(system)


def start_peer(system, config, handler, python, model_dir) -> Server:
    """Start one peer server and wait until its health check answers."""
    tail, extra_env, health, settings, description = peer_plan(system, config, handler)
    port = free_port()
    if system == "bare":
        tail = tail + ["--port", str(port)]
    elif system == "litserve":
        tail = tail + [str(port)]
    else:
        tail = tail + ["--port", str(port)]
    env = {
        **os.environ,
        **extra_env,
        "BENCH_HANDLER": handler,
        "BENCH_MODEL_DIR": str(model_dir),
        "PYTHONUNBUFFERED": "1",
        "BENTOML_HOME": str(Path(model_dir).parent / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    log_path = Path(model_dir).parent / f"{system}-{config}-{handler}.log"
    log = open(log_path, "wb")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(python)] + tail,
        cwd=PEERS_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    server = Server(
        system, config, handler, port, "/predict", settings, description, roots=[proc.pid]
    )
    try:
        wait_ready(port, health, proc, log_path, {})
    except BaseException:
        server.stop()
        raise
    server.start_to_ready_s = round(time.perf_counter() - started, 3)
    return server


def wait_ready(port, path, proc, log_path, headers, method="GET", timeout=READY_TIMEOUT) -> None:
    """Poll ``path`` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = Path(log_path).read_text(errors="replace")[-600:] if log_path else ""
            raise BenchError(
                f"the server exited with {proc.returncode} before it was ready: {tail}"
            )
        try:
            status, _, _ = http_call(port, method, path, headers=headers, timeout=5)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise BenchError(f"the server was not ready after {timeout:.0f} s")


# --------------------------------------------------------------------------------------------
# Measuring one server


def pin_server(roots: list[int], core: str) -> None:
    """Move every process of the server to ``core``; processes it starts later inherit it."""
    for proc in process_tree(roots):
        try:
            proc.cpu_affinity([int(core)])
        except psutil.Error:
            pass


def measure_cell(server, wrk, body_file, concurrency, duration, runs, pinned) -> dict:
    """``runs`` wrk runs at one concurrency, with the server's peak memory of each run."""
    url = f"http://127.0.0.1:{server.port}{server.path}"
    runs_out = []
    for _ in range(runs):
        with RssSampler(server.pids) as sampler:
            result = run_wrk(wrk, url, body_file, concurrency, duration, pinned, server.api_key)
        result["rss_mb"] = sampler.peak
        runs_out.append(result)
    cell = {
        "concurrency": concurrency,
        "pinned": pinned,
        "pinning": "server core 0, wrk core 1" if pinned else "unpinned",
        "runs": runs_out,
    }
    for metric in ("rps", "p50_ms", "p99_ms", "errors", "rss_mb"):
        cell[metric] = summarise([r[metric] for r in runs_out])
    cell["requests"] = sum(r["requests"] for r in runs_out)
    return cell


def measure(
    server: Server, wrk: str, body_file: Path, item: dict, duration: int, runs: int
) -> dict:
    """Cold request, warm-up, then the unpinned and the pinned cells of ``item``."""
    body = body_file.read_bytes()
    headers = {"Content-Type": "application/json", **server.headers}
    record = {
        "system": server.system,
        "config": server.config,
        "handler": server.handler,
        "settings": server.settings,
        "description": server.description,
        "start_to_ready_s": server.start_to_ready_s,
        "extra": server.extra,
        "idle_rss_mb": tree_rss_mb(server.pids()),
        "cells": [],
        "error": None,
    }
    status, data, seconds = http_call(server.port, "POST", server.path, body, headers)
    record["cold_request_ms"] = round(seconds * 1000, 2)
    record["cold_request_status"] = status
    record["sample_response"] = data[:200].decode(errors="replace")
    if status != 200:
        raise BenchError(f"the first request answered HTTP {status}: {data[:200]!r}")
    url = f"http://127.0.0.1:{server.port}{server.path}"
    # Warm-up, not counted: fills caches, starts the workers that scale with load.
    all_c = item["concurrencies"] + item["pinned_concurrencies"]
    run_wrk(wrk, url, body_file, max(all_c), 1, False, server.api_key)
    for concurrency in item["concurrencies"]:
        record["cells"].append(
            measure_cell(server, wrk, body_file, concurrency, duration, runs, False)
        )
    if item["pinned_concurrencies"]:
        pin_server(server.pids(), SERVER_CORE)
        for concurrency in item["pinned_concurrencies"]:
            record["cells"].append(
                measure_cell(server, wrk, body_file, concurrency, duration, runs, True)
            )
    return record


# --------------------------------------------------------------------------------------------
# Ours: the real platform, gateway with key checking and metering


def ours_versions() -> dict:
    """The product's version and commit."""
    try:
        from jupyter_hub_api import __version__ as version
    except Exception:  # noqa: BLE001 - the version is informative only
        version = "unknown"
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {"jupyter_hub_api": version, "commit": commit}


def peer_versions(python) -> dict:
    """Versions of the peer packages in their virtual environment."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "names = ['litserve', 'bentoml', 'uvicorn', 'starlette', 'scikit-learn', 'uvloop', 'httptools']\n"
        "out = {}\n"
        "for n in names:\n"
        "    try: out[n] = m.version(n)\n"
        "    except Exception: out[n] = None\n"
        "out['python'] = sys.version.split()[0]\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    try:
        return json.loads(done.stdout)
    except ValueError:
        return {"error": done.stderr[-300:]}


def ours_module():
    """The module that drives our platform (kept apart: it follows the CLI as it grows)."""
    import ours_driver

    return ours_driver


# --------------------------------------------------------------------------------------------
# The plan


def build_plan(args) -> list[dict]:
    """The servers to start, each with the concurrencies to load it at, unpinned and pinned.

    Every configuration of every system gets the same cells, so that each configuration can be
    compared as a whole with each peer's: echo over the whole curve, sklearn at the middle
    concurrency, the 50 ms sleep at the highest (at 1 it only measures the sleep); ``--full``
    gives every handler the whole curve. The pinned pass (server on core 0, wrk on core 1) is a
    side table, off unless ``--pinning both``: echo at the middle concurrency, on the same
    server after its unpinned runs.
    """
    full = [int(c) for c in args.concurrency.split(",")]
    middle = full[len(full) // 2]
    plan = []
    skip = {pair.strip() for pair in getattr(args, "skip", "").split(",") if pair.strip()}
    for system in args.systems.split(","):
        for config in args.configs.split(","):
            if f"{system}/{config}" in skip:
                continue
            for handler in args.handlers.split(","):
                if handler == "echo" or args.full or len(full) == 1:
                    concurrencies = full
                else:
                    concurrencies = [max(full) if handler == "sleep" else middle]
                pinned = [middle] if args.pinning == "both" and handler == "echo" else []
                if args.pinning == "pinned":
                    concurrencies, pinned = [], concurrencies
                plan.append(
                    {"system": system, "config": config, "handler": handler,
                     "concurrencies": concurrencies, "pinned_concurrencies": pinned}
                )  # fmt: skip
    return plan


def main(argv=None) -> int:
    """Run the plan and write the JSON result; returns the exit code."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--handlers", default=",".join(bench_handlers.HANDLERS))
    parser.add_argument("--concurrency", default="1,16,64")
    # 10 s runs, 3 of each cell: 35 cells (7 configurations x 5 cells: bench/run.sh skips the
    # bare app's default) take about 18 minutes of load; shorter runs were not stable (their medians moved by a third between
    # two full runs).
    parser.add_argument(
        "--duration",
        type=int,
        default=int(os.environ.get("BENCH_DURATION", 10)),
        help="seconds per run (wrk takes whole seconds)",
    )
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 3)))
    parser.add_argument("--pinning", choices=["unpinned", "pinned", "both"], default="unpinned")
    parser.add_argument("--full", action="store_true", help="every concurrency for every handler")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated SYSTEM/CONFIG pairs not to run (bench/run.sh: bare/default, which "
        "is never the bare limit: the tuned bare app is 2-4x faster in every cell)",
    )
    parser.add_argument("--peers-python", default=str(DEFAULT_PEERS_PYTHON))
    parser.add_argument(
        "--install-wrk", action="store_true", help="apt-get install wrk when missing"
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a check of the harness: bare limit, echo, c=1, 1 run of 1 s",
    )
    args = parser.parse_args(argv)
    # Absolute but not resolved: a venv's python is a symlink that must stay one.
    args.peers_python = os.path.abspath(args.peers_python)
    if args.tiny:
        args.systems, args.configs, args.handlers = "bare", "default", "echo"
        args.concurrency, args.duration, args.runs, args.pinning = "1", 1, 1, "unpinned"
    if args.pinning != "unpinned" and (os.cpu_count() or 1) < 2:
        args.pinning = "unpinned"  # one core: nothing to separate

    wrk = ensure_wrk(args.install_wrk)
    work = Path(tempfile.mkdtemp(prefix="hub-bench-serving-"))
    model_dir = work / "model"
    subprocess.run(
        [args.peers_python, str(PEERS_DIR / "train_model.py"), str(model_dir)],
        check=True,
        capture_output=True,
    )
    bodies = {}
    for name, text in bench_handlers.PAYLOADS.items():
        bodies[name] = work / f"{name}.json"
        bodies[name].write_text(text)

    result = {
        "kind": "serving",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {
            "duration_s": args.duration,
            "runs": args.runs,
            "skipped": [pair for pair in args.skip.split(",") if pair],
            "concurrency": [int(c) for c in args.concurrency.split(",")],
            "load_generator": wrk_version(wrk) + " (1 thread, closed loop, keep-alive, POST JSON)",
            "payloads": bench_handlers.PAYLOADS,
        },
        "versions": {"peers": peer_versions(args.peers_python), "ours": ours_versions()},
        "servers": [],
    }
    ours = None
    try:
        for item in build_plan(args):
            system, config, handler = item["system"], item["config"], item["handler"]
            label = f"{system}/{config}/{handler}"
            print(
                f"[serving] {label} c={item['concurrencies']} pinned c={item['pinned_concurrencies']}",
                file=sys.stderr, flush=True,
            )  # fmt: skip
            server = None
            try:
                if system == "ours":
                    if ours is None:
                        ours = ours_module().OursPlatform(work / "ours", model_dir)
                    server = ours.start(config, handler)
                else:
                    server = start_peer(system, config, handler, args.peers_python, model_dir)
                record = measure(server, wrk, bodies[handler], item, args.duration, args.runs)
            except Exception as exc:  # noqa: BLE001 - one failing system must not stop the others
                record = {
                    "system": system, "config": config, "handler": handler,
                    "error": f"{type(exc).__name__}: {exc}", "cells": [],
                }  # fmt: skip
                print(f"[serving] {label} failed: {record['error']}", file=sys.stderr, flush=True)
            finally:
                if server is not None:
                    try:
                        server.stop()
                    except Exception as exc:  # noqa: BLE001 - report, and go on with the next
                        print(
                            f"[serving] {label}: stopping failed: {exc}",
                            file=sys.stderr,
                            flush=True,
                        )
            result["servers"].append(record)
    finally:
        if ours is not None:
            ours.close()
    result["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
