"""The gateway's echo on each state backend: SQLite (the default) against PostgreSQL.

    python bench/db_bench.py [--seconds 5] [--rounds 3] [--concurrency 1 16] [--json-out FILE]

Three platform processes at once, each with its own data directory, the same echo API (deployed
with the real CLI) and no quota or rate limit; only their ``database`` differs:

- ``sqlite``: the embedded ``platform.db`` (WAL, ``synchronous=NORMAL``: a commit survives a kill
  of the process, not a power cut);
- ``postgresql``: a database of a throwaway PostgreSQL cluster started here
  (tests/postgres_cluster.py, durable: fsync and ``synchronous_commit`` on, PostgreSQL's
  defaults: a commit waits for its WAL flush);
- ``postgresql-async``: the same cluster, a database with ``synchronous_commit = off`` (a commit
  does not wait for the flush: closer to SQLite's NORMAL, but a crash of the server may lose
  the last fraction of a second of answered calls; shown for the cost of the flush alone).

Each answered call is committed (the invocation row, its counters) before its answer, so this is
the price of each backend's commit on the hot path. wrk (closed loop) runs ``--rounds`` rounds
of ``--seconds`` per backend and concurrency, the backends alternating within a round so the
machine's load falls on all alike; the report gives the median round and the ratio of each
backend to ``sqlite`` measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
HUB = str(Path(sys.executable).with_name("hub"))
WRK_SCRIPT = HERE / "wrk_post.lua"
ECHO_MAIN = """from hub import hub_handler


@hub_handler
def inference_handler(inputs, context):
    return inputs
"""
ECHO_INPUT = {"text": "Deployment is so simple and quick!", "n": [1, 2, 3]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Platform:
    """One platform process with its data directory and the echo API."""

    def __init__(self, name: str, home: Path, database: str | None) -> None:
        self.name = name
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config: dict = {"plans": {"free": {"monthly_calls": None, "rate_limit_per_second": 0}}}
        if database:
            config["database"] = {"url": database}
        (home / "config.json").write_text(json.dumps(config))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        self.env.update(
            HUB_HOME=str(home),
            HUB_PLATFORM_URL=self.url,
            HUB_PLATFORM_CONFIG=str(home / "config.json"),
            JUPYTERHUB_USER="bench",
        )
        log = open(home / "platform.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_hub_api.platform"],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the {name} platform did not start: see {home}/platform.log")
            time.sleep(0.05)

    def hub(self, *args: str, cwd: Path | None = None) -> str:
        out = subprocess.run(
            [HUB, *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=900
        )
        if out.returncode != 0:
            raise RuntimeError(f"hub {' '.join(args)}: {out.stderr}")
        return out.stdout

    def control(self, method: str, path: str) -> dict:
        token = (self.home / "platform" / "token").read_text().strip()
        resp = httpx.request(
            method, self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        resp.raise_for_status()
        return resp.json()

    def deploy_echo(self) -> tuple[str, str]:
        """Deploy the echo API; its endpoint and a key."""
        root = self.home / "projects"
        root.mkdir(exist_ok=True)
        self.hub("init", "echo", "--dir", str(root))
        (root / "echo" / "src" / "main.py").write_text(ECHO_MAIN)
        out = self.hub("build", "--deploy", "--json", cwd=root / "echo")
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        endpoint = [e for e in events if e["event"] == "result"][-1]["deploy"]["endpoint"]
        first = self.control("GET", "/api/v1/keys")["keys"][0]
        key = self.control("POST", f"/api/v1/keys/{first['id']}/reveal")["secret"]
        return endpoint, key

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)


def wrk(endpoint: str, key: str, body_file: Path, concurrency: int, seconds: int) -> dict:
    env = dict(os.environ, BENCH_API_KEY=key, BENCH_BODY_FILE=str(body_file))
    out = subprocess.run(
        ["wrk", f"-t{min(2, concurrency)}", f"-c{concurrency}", f"-d{seconds}s", "--latency"]
        + ["--timeout", "30s", "-s", str(WRK_SCRIPT), endpoint],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("BENCH_JSON ")]
    if not lines:
        raise RuntimeError(f"wrk gave no result: {out.stdout}\n{out.stderr}")
    data = json.loads(lines[0][len("BENCH_JSON ") :])
    ok = max(data["requests"] - data["errors"]["status"], 0)
    return {
        "rps": round(ok / (data["duration_us"] / 1e6), 1),
        "p50_ms": round(data["latency_us"]["p50"] / 1000, 3),
        "p99_ms": round(data["latency_us"]["p99"] / 1000, 3),
        "errors": sum(data["errors"].values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="one wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per backend (default 3)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--json-out", type=Path, help="write the results here as JSON")
    args = parser.parse_args()

    from postgres_cluster import postgres_cluster

    started = time.time()
    load_before = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="db-bench-"))
    platforms: list[Platform] = []
    with postgres_cluster(durable=True) as cluster:
        import psycopg

        sync_url = cluster.new_database("bench_sync")
        async_url = cluster.new_database("bench_async")
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            name = async_url.split("/")[3].split("?")[0]
            conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        try:
            for name, url in (
                ("sqlite", None),
                ("postgresql", sync_url),
                ("postgresql-async", async_url),
            ):
                home = root / name
                home.mkdir()
                platforms.append(Platform(name, home, url))
            apis = {p.name: p.deploy_echo() for p in platforms}
            body_file = root / "body.json"
            body_file.write_text(json.dumps(ECHO_INPUT))
            runs: dict[str, dict[int, list[dict]]] = {p.name: {} for p in platforms}
            for endpoint, key in apis.values():  # load each API's worker first
                httpx.post(endpoint, headers={"x-api-key": key}, json=ECHO_INPUT, timeout=120)
            for _ in range(args.rounds):
                for concurrency in args.concurrency:
                    for p in platforms:
                        endpoint, key = apis[p.name]
                        result = wrk(endpoint, key, body_file, concurrency, args.seconds)
                        runs[p.name].setdefault(concurrency, []).append(result)
            usage = {p.name: p.control("GET", "/api/v1/usage")["total_calls"] for p in platforms}
        finally:
            for p in platforms:
                p.stop()
    report: dict = {
        "bench": "db_bench",
        "seconds": args.seconds,
        "rounds": args.rounds,
        "load_1min_before": round(load_before, 2),
        "load_1min_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "calls_recorded": usage,
        "backends": {},
    }
    for name, by_c in runs.items():
        report["backends"][name] = {}
        for concurrency, each in by_c.items():
            entry = {m: statistics.median(r[m] for r in each) for m in ("rps", "p50_ms", "p99_ms")}
            entry["rps_min"] = min(r["rps"] for r in each)
            entry["rps_max"] = max(r["rps"] for r in each)
            entry["errors"] = sum(r["errors"] for r in each)
            base = statistics.median(r["rps"] for r in runs["sqlite"][concurrency])
            entry["rps_vs_sqlite"] = round(entry["rps"] / base, 3) if base else None
            report["backends"][name][str(concurrency)] = entry
    report["wall_seconds"] = round(time.time() - started, 1)
    print(f"{'backend':18} {'c':>3} {'req/s':>9} {'x sqlite':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, by_c in report["backends"].items():
        for c, e in by_c.items():
            print(
                f"{name:18} {c:>3} {e['rps']:>9.1f} {e['rps_vs_sqlite']:>8.3f}"
                f" {e['p50_ms']:>8.3f} {e['p99_ms']:>8.3f}"
            )
    print(f"load (1 min) {report['load_1min_before']} -> {report['load_1min_after']}")
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
