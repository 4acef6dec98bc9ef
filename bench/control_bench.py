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

Only the public HTTP API is used, so the same script measures any two versions of the platform.
``--before REV`` (or ``$BENCH_BEFORE_REV``) measures the platform of that git revision too, in
the same run, from a copy of its files on this checkout's interpreter, and reports after/before
ratios. Prints a table and writes one JSON document (``--out``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parents[1]

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


def measure(args, pythonpath: str | None) -> dict:
    """Both measurements on one platform process (of ``pythonpath``'s code when given)."""
    with tempfile.TemporaryDirectory(prefix="hub-control-bench-") as tmp:
        bench = Bench(Path(tmp))
        # Seven APIs: more than the free plan's five, so no limit of any kind here.
        plan = {"monthly_calls": None, "rate_limit_per_second": 0, "max_apis": None}
        (bench.home / "bench-config.json").write_text(json.dumps({"plans": {"free": plan}}))
        if pythonpath:
            bench.env["PYTHONPATH"] = pythonpath  # the platform and the hub CLI of that copy
        bench.start()
        try:
            key = bench.key()
            names = [f"dash-{i}" for i in range(args.apis)]
            fill_seconds = 0.0
            for name in names:
                _, path = deploy_echo(bench, name)
                fill_seconds += fill(bench.port, path, key, args.calls)
            listed = bench.control("GET", "/api/v1/apis")["apis"]
            dashboard = {
                "apis": args.apis,
                "calls_per_api": args.calls,
                "calls_reported": sorted({a.get("calls_this_month") for a in listed}),
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
    return {"dashboard": dashboard, "delete_under_load": delete}


def checkout(rev: str, into: Path) -> str:
    """The files of ``rev`` in ``into`` (git archive), with this checkout's generated version."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "jupyter_hub_api", "hub"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    version = REPO / "jupyter_hub_api" / "_version.py"
    if version.exists():
        shutil.copy(version, into / "jupyter_hub_api" / "_version.py")
    return str(into)


def describe(label: str, out: dict, args) -> None:
    dash, delete = out["dashboard"], out["delete_under_load"]
    during, baseline = delete["during_delete"], delete["baseline"]
    print(
        f"{label}: GET /api/v1/apis, {args.apis} APIs x {args.calls} calls: "
        f"p50 {dash['list_apis']['p50_ms']} ms, p99 {dash['list_apis']['p99_ms']} ms; "
        f"GET /api/v1/apis/<name>: p50 {dash['get_api']['p50_ms']} ms"
    )
    print(
        f"{label}: echo c16 while deleting an API of {args.big} calls (delete took "
        f"{delete['delete_seconds']} s): {during['rps']} req/s, p99 {during['p99_ms']} ms "
        f"against {baseline['rps']} req/s, p99 {baseline['p99_ms']} ms without "
        f"(x{delete['rps_ratio']} throughput, x{delete['p99_ratio']} p99; errors "
        f"{during['errors']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apis", type=int, default=5)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--before", default=os.environ.get("BENCH_BEFORE_REV"), metavar="REV")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    out: dict = {"after": measure(args, None)}
    describe("after", out["after"], args)
    if args.before:
        with tempfile.TemporaryDirectory(prefix="hub-control-before-") as tmp:
            out["before"] = measure(args, checkout(args.before, Path(tmp)))
        out["before_rev"] = args.before
        describe(f"before ({args.before})", out["before"], args)
        a, b = out["after"], out["before"]
        out["after_over_before"] = {
            "list_apis_p50": round(
                a["dashboard"]["list_apis"]["p50_ms"] / b["dashboard"]["list_apis"]["p50_ms"], 3
            ),
            "get_api_p50": round(
                a["dashboard"]["get_api"]["p50_ms"] / b["dashboard"]["get_api"]["p50_ms"], 3
            ),
            "rps_during_delete": round(
                a["delete_under_load"]["during_delete"]["rps"]
                / b["delete_under_load"]["during_delete"]["rps"],
                3,
            ),
            "p99_during_delete": round(
                a["delete_under_load"]["during_delete"]["p99_ms"]
                / b["delete_under_load"]["during_delete"]["p99_ms"],
                3,
            ),
            "rps_without_delete": round(
                a["delete_under_load"]["baseline"]["rps"]
                / b["delete_under_load"]["baseline"]["rps"],
                3,
            ),
        }
        print("after/before:", json.dumps(out["after_over_before"]))
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
