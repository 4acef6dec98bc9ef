"""What the control plane costs with history behind it, and what a big delete does to serving.

    python bench/control_bench.py [--apis 5] [--calls 10000] [--big 100000] [--out results.json]

On a real platform process (temporary HUB_HOME, free loopback port, no quota), with echo APIs
deployed by the real CLI:

- dashboard: ``--apis`` APIs that have each answered ``--calls`` invocations; the time of
  ``GET /api/v1/apis`` (the deployments panel's page) and of ``GET /api/v1/apis/<name>``,
  ``--repeat`` times each over one keep-alive connection. It should not grow with history.
- delete under load: an API with ``--big`` invocations is deleted while wrk drives another API
  at concurrency 16; throughput and p99 of that run against a run without the delete, so the
  ratio says how much a delete disturbs every other user's calls.

Only the public HTTP API is used, so the same script measures any two versions of the platform
(run it once per checkout and compare). Prints a table and writes one JSON document (``--out``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_bench import ECHO_INPUT, ECHO_MAIN, Bench, _runtime, pct  # noqa: E402


def fill(port: int, path: str, key: str, calls: int, threads: int = 4) -> float:
    """POST ``calls`` echo invocations to ``path`` over ``threads`` keep-alive connections;
    returns the seconds it took. Every call must answer 200."""
    body = json.dumps(ECHO_INPUT).encode()
    headers = {"x-api-key": key, "Content-Type": "application/json"}
    share = [calls // threads + (1 if i < calls % threads else 0) for i in range(threads)]
    failures: list[str] = []

    def run(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for _ in range(n):
            conn.request("POST", path, body, headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                failures.append(f"{resp.status}")
                return
        conn.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=run, args=(n,)) for n in share]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    if failures:
        raise RuntimeError(f"filling {path} failed: HTTP {failures[0]}")
    return time.perf_counter() - started


def timed_gets(bench: Bench, path: str, repeat: int) -> list[float]:
    """``repeat`` authenticated GETs of ``path`` over one connection, in milliseconds."""
    token = (bench.home / "platform" / "token").read_text().strip()
    conn = http.client.HTTPConnection("127.0.0.1", bench.port, timeout=120)
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    for i in range(repeat + 3):
        t = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {resp.status}")
        if i >= 3:  # the first calls warm the connection and any cache
            times.append((time.perf_counter() - t) * 1000)
    conn.close()
    return times


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 2),
        "p99_ms": round(pct(values, 99), 2),
        "mean_ms": round(statistics.fmean(values), 2),
    }


def deploy_echo(bench: Bench, name: str) -> tuple[str, str]:
    """Deploy an echo API called ``name``; returns (endpoint, gateway path)."""
    root = bench.home / "projects"
    root.mkdir(exist_ok=True)
    bench.hub("init", name, "--dir", str(root))
    project = root / name
    (project / "src" / "main.py").write_text(ECHO_MAIN)
    _runtime(project, idle_seconds=600.0)
    endpoint = bench.deploy(project)["endpoint"]
    return endpoint, "/" + endpoint.split("/", 3)[3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apis", type=int, default=5)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hub-control-bench-") as tmp:
        bench = Bench(Path(tmp))
        bench.start()
        try:
            key = bench.key()
            names = [f"dash-{i}" for i in range(args.apis)]
            fill_seconds = 0.0
            for name in names:
                _, path = deploy_echo(bench, name)
                fill_seconds += fill(bench.port, path, key, args.calls)
            listed = bench.control("GET", "/api/v1/apis")["apis"]
            calls = {a["name"]: a.get("calls_this_month") for a in listed}
            dashboard = {
                "apis": args.apis,
                "calls_per_api": args.calls,
                "calls_reported": calls,
                "fill_rps": round(args.apis * args.calls / fill_seconds),
                "list_apis": summary(timed_gets(bench, "/api/v1/apis", args.repeat)),
                "get_api": summary(timed_gets(bench, f"/api/v1/apis/{names[0]}", args.repeat)),
            }

            endpoint, _ = deploy_echo(bench, "served")
            _, big_path = deploy_echo(bench, "big")
            body = json.dumps(ECHO_INPUT).encode()
            baseline = bench.throughput(endpoint, key, body, 16, args.seconds)
            fill(bench.port, big_path, key, args.big)
            result: dict = {}

            def delete_later() -> None:
                time.sleep(min(2.0, args.seconds / 4))
                t = time.perf_counter()
                bench.control("DELETE", "/api/v1/apis/big")
                result["delete_seconds"] = round(time.perf_counter() - t, 3)

            deleter = threading.Thread(target=delete_later)
            deleter.start()
            during = bench.throughput(endpoint, key, body, 16, args.seconds)
            deleter.join()
            delete = {
                "big_calls": args.big,
                "delete_seconds": result.get("delete_seconds"),
                "baseline": baseline,
                "during_delete": during,
                "rps_ratio": round(during["rps"] / baseline["rps"], 3),
                "p99_ratio": round(during["p99_ms"] / baseline["p99_ms"], 2),
            }
        finally:
            bench.stop()

    out = {"dashboard": dashboard, "delete_under_load": delete}
    print(
        f"GET /api/v1/apis, {args.apis} APIs x {args.calls} calls: "
        f"p50 {dashboard['list_apis']['p50_ms']} ms, p99 {dashboard['list_apis']['p99_ms']} ms; "
        f"GET /api/v1/apis/<name>: p50 {dashboard['get_api']['p50_ms']} ms"
    )
    print(
        f"echo c16 while deleting an API of {args.big} calls (delete took "
        f"{delete['delete_seconds']} s): {during['rps']} req/s, p99 {during['p99_ms']} ms "
        f"against {baseline['rps']} req/s, p99 {baseline['p99_ms']} ms without "
        f"(x{delete['rps_ratio']} throughput, x{delete['p99_ratio']} p99; errors "
        f"{during['errors']})"
    )
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
