"""Scale-up time and memory: workers forked from a loaded template against fresh workers, and
against the peers started with as many workers.

For each handler of bench/peers/handlers.py (``sklearn``: the iris model; ``sleep``: 50 ms) and
each concurrency N (16, 64):

- **ours, fork** and **ours, fresh** (``runtime.fork`` true / false): the local engine (in its
  sandbox when bubblewrap works) with ``max_workers`` N and one worker loaded (as after a
  deploy); then N calls at once. *Scale-up* is the time from that burst until N workers are
  loaded; *memory* is the proportional set size (PSS, psutil ``memory_full_info``) summed over
  every process of the version (sandbox, template, workers) once they are, so pages the
  workers share with their template count once in total.
- **peers** (BentoML, LitServe, from the peers' environment bench/run.sh makes,
  ``--peers-python``): started with N workers (``workers=N`` / ``workers_per_device=N``); their
  scale-up is start to ready (they cannot add workers to a running server), their memory the
  PSS summed over their process tree once ready.

Ratios are within this run only: fork against fresh, and ours (fork) against each peer. One
JSON document goes to ``--json-out``.

    python bench/fork_bench.py --json-out .work/bench/fork.json
    python bench/fork_bench.py --quick --json-out /tmp/fork.json    # N = 16 only, no peers
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS_DIR = HERE / "peers"
DEFAULT_PEERS_PYTHON = REPO / ".work" / "bench-peers" / "venv" / "bin" / "python"
sys.path.insert(0, str(REPO))

MAIN = """
import os

import handlers
from hub import hub_handler

HANDLER = handlers.load({name!r}, os.environ["MODEL_DIR"])


@hub_handler
def inference_handler(inputs, context):
    return HANDLER(inputs)
"""
PAYLOAD = {"sklearn": [[5.1, 3.5, 1.4, 0.2]], "sleep": 1}


def pss_mb(roots: list[int]) -> float:
    """PSS of the processes under ``roots`` (and themselves), in MB."""
    seen: dict[int, psutil.Process] = {}
    for pid in roots:
        try:
            root = psutil.Process(pid)
        except psutil.NoSuchProcess:
            continue
        for proc in [root, *root.children(recursive=True)]:
            seen[proc.pid] = proc
    total = 0
    for proc in seen.values():
        try:
            total += proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return round(total / 2**20, 1)


async def ours(handler: str, n: int, fork: bool, work: Path, runtime_dir: Path) -> dict:
    """Scale one version from 1 to ``n`` workers with a burst of ``n`` calls."""
    from jupyter_hub_api.platform.engines import VersionSpec
    from jupyter_hub_api.platform.engines.local import LocalEngine

    root = work / f"ours-{handler}-{n}-{'fork' if fork else 'fresh'}"
    (root / "src").mkdir(parents=True)
    shutil.copy(PEERS_DIR / "handlers.py", root / "src" / "handlers.py")
    (root / "src" / "main.py").write_text(MAIN.format(name=handler))
    shutil.copytree(work / "model", root / "model")
    engine = LocalEngine(read_only_paths=[runtime_dir], scratch_dir=work / "scratch")
    await engine.start()
    try:
        spec = VersionSpec(
            version_id=f"bench-{root.name}",
            api=f"bench/{root.name}",
            src_dir=root / "src",
            model_dir=root / "model",
            python=Path(sys.executable),
            env={"PYTHONPATH": str(runtime_dir)},
            max_workers=n,
            idle_seconds=600,
            timeout_seconds=300,
            memory_mb=0,
            fork=fork,
        )
        await engine.deploy(spec)
        loaded = time.perf_counter()
        status = await engine.warm(spec.version_id)
        first_load_s = time.perf_counter() - loaded
        if status["state"] != "ready":
            raise RuntimeError(f"{root.name} did not load: {status.get('load_error')}")
        pool = engine.pools[spec.version_id]
        body = json.dumps(PAYLOAD[handler]).encode()
        started = time.perf_counter()
        calls = [
            asyncio.ensure_future(engine.invoke(spec.version_id, body, f"c{i}")) for i in range(n)
        ]
        while not (
            len(pool.workers) >= n and all(w.state in ("idle", "busy") for w in pool.workers)
        ):
            await asyncio.sleep(0.002)
        scale_up_s = time.perf_counter() - started
        results = await asyncio.gather(*calls)
        failed = [r for r in results if r.status != "ok"]
        if failed:
            raise RuntimeError(f"{root.name}: {failed[0]}")
        roots = [p.pid for p in engine.processes if p.pid]
        memory = pss_mb(roots)
        return {
            "system": "ours",
            "mode": "fork" if fork else "fresh",
            "handler": handler,
            "workers": len(pool.workers),
            "first_load_s": round(first_load_s, 3),
            "scale_up_s": round(scale_up_s, 3),
            "pss_mb": memory,
            "forked": pool.template is not None,
            "fork_problem": pool.fork_problem,
            "sandbox": engine.sandbox.active,
        }
    finally:
        await engine.stop()


def peer(system: str, handler: str, n: int, python: Path, work: Path) -> dict:
    """Start a peer with ``n`` workers; start to ready and its PSS once ready."""
    sys.path.insert(0, str(HERE))
    from serving import free_port, stop_tree, wait_ready

    port = free_port()
    if system == "litserve":
        argv = [str(python), str(PEERS_DIR / "litserve_app.py"), str(port)]
        env = {"LITSERVE_WORKERS": str(n), "LITSERVE_FAST_QUEUE": "1", "LITSERVE_QUIET": "1"}
        health = "/health"
    else:
        argv = [str(python), "-m", "bentoml", "serve", "bentoml_service:BenchService"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        env = {"BENTOML_BENCH_WORKERS": str(n), "BENTOML_BENCH_THREADS": "1"}
        health = "/readyz"
    env = {
        **os.environ,
        **env,
        "BENCH_HANDLER": handler,
        "BENCH_MODEL_DIR": str(work / "model"),
        "BENTOML_HOME": str(work / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "True",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = work / f"{system}-{handler}-{n}.log"
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=PEERS_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_ready(port, health, proc, log_path, {})
        ready_s = time.perf_counter() - started
        time.sleep(1.0)  # workers past the health check settle
        memory = pss_mb([proc.pid])
        workers = len(psutil.Process(proc.pid).children(recursive=True))
    finally:
        stop_tree([proc.pid])
    return {
        "system": system,
        "mode": f"{n} workers at start",
        "handler": handler,
        "workers": n,
        "processes": workers,
        "scale_up_s": round(ready_s, 3),
        "pss_mb": memory,
    }


def ratios(rows: list[dict]) -> list[dict]:
    """fork against fresh, and ours (fork) against each peer, per handler and N."""
    out = []
    for handler in {r["handler"] for r in rows}:
        for n in {r["workers"] for r in rows if r["handler"] == handler}:
            cell = {
                (r["system"], r.get("mode")): r
                for r in rows
                if r["handler"] == handler and r["workers"] == n
            }
            fork = cell.get(("ours", "fork"))
            if fork is None:
                continue
            for (system, mode), other in cell.items():
                if other is fork:
                    continue
                out.append(
                    {
                        "handler": handler,
                        "workers": n,
                        "against": f"{system} ({mode})",
                        "scale_up_x": round(other["scale_up_s"] / max(fork["scale_up_s"], 1e-6), 2),
                        "memory_x": round(other["pss_mb"] / max(fork["pss_mb"], 1e-6), 2),
                    }
                )
    return sorted(out, key=lambda r: (r["handler"], r["workers"], r["against"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json-out", type=Path, help="where to write the results (JSON)")
    parser.add_argument("--quick", action="store_true", help="N = 16 only, no peers")
    parser.add_argument("--concurrency", type=int, nargs="*", default=None)
    parser.add_argument("--handlers", nargs="*", default=["sklearn", "sleep"])
    parser.add_argument("--peers-python", type=Path, default=DEFAULT_PEERS_PYTHON)
    args = parser.parse_args(argv)
    levels = args.concurrency or ([16] if args.quick else [16, 64])
    work = Path(tempfile.mkdtemp(prefix="fork-bench-"))
    rows: list[dict] = []
    notes: list[str] = []
    try:
        runtime_dir = work / "runtime"
        shutil.copytree(REPO / "hub", runtime_dir / "hub")
        sys.path.insert(0, str(PEERS_DIR))
        import train_model

        train_model.train(str(work / "model"))
        for handler in args.handlers:
            for n in levels:
                for fork in (True, False):
                    row = asyncio.run(ours(handler, n, fork, work, runtime_dir))
                    print(json.dumps(row), flush=True)
                    rows.append(row)
                if args.quick:
                    continue
                if not args.peers_python.exists():
                    note = f"peers skipped: no peers environment at {args.peers_python}"
                    if note not in notes:
                        notes.append(note + " (bench/run.sh makes it)")
                    continue
                for system in ("bentoml", "litserve"):
                    try:
                        row = peer(system, handler, n, args.peers_python, work)
                    except Exception as exc:  # noqa: BLE001 - a peer that fails is reported
                        notes.append(f"{system} {handler} N={n} failed: {exc}")
                        continue
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2)},
        "rows": rows,
        "ratios": ratios(rows),
        "notes": notes,
    }
    text = json.dumps(result, indent=2)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n")
    print(json.dumps(result["ratios"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
