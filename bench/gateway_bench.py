"""What the platform's gateway adds: latency over the handler in-process, throughput, cold start.

    python bench/gateway_bench.py [--requests 3000] [--seconds 5] [--out results.json]

For two APIs, an echo handler and a tiny scikit-learn model (logistic regression on iris, the
``hub init --template sklearn`` project), deployed with the real CLI on a real platform process
(temporary HUB_HOME, free loopback port, no quota or rate limit):

- latency: ``--requests`` sequential POSTs over one keep-alive connection, through the whole
  gateway (key check, quota reservation, engine round trip to the worker, durable metering),
  against the same handler called in this process on the same input. The difference of the
  percentiles is what the platform adds.
- throughput: wrk (closed loop, ``--runs`` runs of ``--seconds`` each, default 3 x 10 s) at
  concurrency 1, 16 and 64: the median run with the spread; only answered, successful calls
  count (wrk counts a non-2xx answer as a request too).
- cold start: a GET that wakes the API from zero workers (as the guide's first request does),
  minus the time that worker spent importing ``main.py`` (reported by the worker itself), i.e.
  the cost of starting a worker process beyond loading the user's code. For reference, the
  import is also timed in a fresh interpreter of the API's environment.

Prints a table and writes one JSON document (``--out``).
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
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
HUB = str(Path(sys.executable).with_name("hub"))
WRK_SCRIPT = HERE / "wrk_post.lua"

ECHO_MAIN = """from hub import hub_handler


@hub_handler
def inference_handler(inputs, context):
    return inputs
"""
ECHO_INPUT = {"text": "Deployment is so simple and quick!", "n": [1, 2, 3]}
SKLEARN_INPUT = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class Bench:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = home / "bench-config.json"
        config.write_text(
            json.dumps({"plans": {"free": {"monthly_calls": None, "rate_limit_per_second": 0}}})
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        self.env.update(
            HUB_HOME=str(home),
            HUB_PLATFORM_URL=self.url,
            HUB_PLATFORM_CONFIG=str(config),
            JUPYTERHUB_USER="bench",
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.home / "platform-bench.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_hub_api.platform"],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the platform did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)

    def hub(self, *args: str, cwd: Path | None = None) -> str:
        out = subprocess.run(
            [HUB, *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=900
        )
        if out.returncode != 0:
            raise RuntimeError(f"hub {' '.join(args)}: {out.stderr}")
        return out.stdout

    def control(self, method: str, path: str, **kw):
        token = (self.home / "platform" / "token").read_text().strip()
        resp = httpx.request(
            method, self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=60, **kw
        )
        resp.raise_for_status()
        return resp.json()

    def key(self) -> str:
        first = self.control("GET", "/api/v1/keys")["keys"][0]
        return self.control("POST", f"/api/v1/keys/{first['id']}/reveal")["secret"]

    # -- projects -----------------------------------------------------------------------------
    def echo_project(self) -> Path:
        root = self.home / "projects"
        root.mkdir(exist_ok=True)
        self.hub("init", "echo", "--dir", str(root))
        (root / "echo" / "src" / "main.py").write_text(ECHO_MAIN)
        _runtime(root / "echo", idle_seconds=1.0)
        return root / "echo"

    def sklearn_project(self) -> Path:
        import joblib
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        root = self.home / "projects"
        root.mkdir(exist_ok=True)
        self.hub("init", "iris", "--template", "sklearn", "--dir", str(root))
        x, y = load_iris(return_X_y=True)
        joblib.dump(
            LogisticRegression(max_iter=500).fit(x, y), root / "iris" / "model" / "model.joblib"
        )
        _runtime(root / "iris", idle_seconds=1.0)
        return root / "iris"

    def deploy(self, project: Path) -> dict:
        out = self.hub("build", "--deploy", "--json", cwd=project)
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        return [e for e in events if e["event"] == "result"][-1]["deploy"]

    # -- measurements -------------------------------------------------------------------------
    def latency(self, endpoint: str, key: str, body: bytes, n: int) -> list[float]:
        path = "/" + endpoint.split("/", 3)[3]
        conn = http.client.HTTPConnection("127.0.0.1", self.port)
        headers = {"x-api-key": key, "Content-Type": "application/json"}
        for _ in range(200):  # warm up the worker and the connection
            conn.request("POST", path, body, headers)
            conn.getresponse().read()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            conn.request("POST", path, body, headers)
            resp = conn.getresponse()
            resp.read()
            times.append((time.perf_counter() - t) * 1000)
            assert resp.status == 200, resp.status
        conn.close()
        return times

    def throughput(
        self, endpoint: str, key: str, body: bytes, concurrency: int, seconds: float
    ) -> dict:
        body_file = self.home / "wrk-body.json"
        body_file.write_bytes(body)
        env = dict(os.environ, BENCH_API_KEY=key, BENCH_BODY_FILE=str(body_file))
        threads = min(2, concurrency)
        # Load the API first: the benchmark's APIs scale to zero after 1 s (for the cold-start
        # runs), and a cold start must not be counted as throughput.
        httpx.get(endpoint, headers={"x-api-key": key}, timeout=120)
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "--timeout",
                "30s",
                "-s",
                str(WRK_SCRIPT),
                endpoint,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        lines = [line for line in out.stdout.splitlines() if line.startswith("BENCH_JSON ")]
        if not lines:
            raise RuntimeError(f"wrk gave no result: {out.stdout}\n{out.stderr}")
        line = lines[0]
        data = json.loads(line[len("BENCH_JSON ") :])
        errors = sum(data["errors"].values())
        seconds_run = data["duration_us"] / 1e6
        # wrk counts an answer with a non-2xx/3xx status as a request *and* as a status error;
        # only the answered, successful calls are throughput.
        ok = max(data["requests"] - data["errors"]["status"], 0)
        return {
            "concurrency": concurrency,
            "rps": round(ok / seconds_run, 1) if seconds_run else 0.0,
            "requests": data["requests"],
            "ok": ok,
            "p50_ms": round(data["latency_us"]["p50"] / 1000, 3),
            "p99_ms": round(data["latency_us"]["p99"] / 1000, 3),
            "errors": errors,
            "error_kinds": {k: v for k, v in data["errors"].items() if v},
        }

    def throughput_runs(
        self, endpoint: str, key: str, body: bytes, concurrency: int, seconds: float, runs: int
    ) -> dict:
        """``runs`` wrk runs at one concurrency: the median run's figures, each figure's spread."""
        each = [self.throughput(endpoint, key, body, concurrency, seconds) for _ in range(runs)]
        out = {"concurrency": concurrency, "runs": each}
        for metric in ("rps", "p50_ms", "p99_ms"):
            values = [r[metric] for r in each]
            out[metric] = round(statistics.median(values), 3)
            out[f"{metric}_min"], out[f"{metric}_max"] = min(values), max(values)
        out["errors"] = sum(r["errors"] for r in each)
        return out

    def cold_start(self, endpoint: str, key: str, api: str, runs: int) -> list[dict]:
        """Wake the API from zero workers with a GET, ``runs`` times.

        Each run: the wall time of the GET as the client sees it, and the part the worker spent
        importing ``main.py`` (``import_seconds`` of the answer, measured in that worker).
        """
        out = []
        for _ in range(runs):
            deadline = time.monotonic() + 60
            while self.control("GET", f"/api/v1/apis/{api}")["status"] != "cold":
                if time.monotonic() > deadline:
                    raise RuntimeError("the API did not scale to zero")
                time.sleep(0.1)
            t = time.perf_counter()
            resp = httpx.get(endpoint, headers={"x-api-key": key}, timeout=120)
            wall = (time.perf_counter() - t) * 1000
            body = resp.json()["body"]
            assert resp.status_code == 200, resp.text
            out.append({"wall_ms": wall, "import_ms": body["import_seconds"] * 1000})
        return out

    def import_time(self, api: str, runs: int) -> list[float]:
        """How long ``import main`` takes in a fresh interpreter of the API's environment."""
        version = self.control("GET", f"/api/v1/apis/{api}")["live_version"]
        vdir = self.home / "platform" / "versions" / version["build_id"]
        python = _env_python(self.home, vdir)
        code = "import time; t = time.perf_counter(); import main; print((time.perf_counter() - t) * 1000)"
        times = []
        for _ in range(runs):
            env = dict(self.env, MODEL_DIR=str(vdir / "model"))
            out = subprocess.run(
                [python, "-c", code],
                cwd=vdir / "src",
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if out.returncode != 0:
                raise RuntimeError(out.stderr)
            times.append(float(out.stdout.strip().splitlines()[-1]))
        return times


def in_process(project: Path, model_dir: Path, body: bytes, n: int) -> list[float]:
    """The handler called in this process (decode the body, call, encode the result)."""
    os.environ["MODEL_DIR"] = str(model_dir)
    src = str(project / "src")
    sys.path.insert(0, src)
    sys.modules.pop("main", None)
    import hub

    hub._handlers.clear()
    import main  # noqa: F401

    handler = hub.registered_handlers()[-1]
    for _ in range(200):
        json.dumps(handler(json.loads(body), None))
    times = []
    for _ in range(n):
        t = time.perf_counter()
        json.dumps(handler(json.loads(body), None)).encode()
        times.append((time.perf_counter() - t) * 1000)
    sys.path.remove(src)
    return times


def _runtime(project: Path, **values) -> None:
    config_path = project / "hub_config.json"
    config = json.loads(config_path.read_text())
    config.setdefault("runtime", {}).update(values)
    config_path.write_text(json.dumps(config, indent=2))


def _env_python(home: Path, vdir: Path) -> str:
    import sqlite3

    db = sqlite3.connect(home / "platform" / "platform.db")
    row = db.execute(
        "SELECT python FROM versions WHERE dir = ? ORDER BY id DESC", (str(vdir),)
    ).fetchone()
    db.close()
    return row[0]


def summarise(values: list[float]) -> dict:
    return {
        "p50_ms": round(pct(values, 50), 3),
        "p99_ms": round(pct(values, 99), 3),
        "mean_ms": round(statistics.fmean(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per concurrency")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed for the throughput runs (apt-get install wrk).")

    home = Path(tempfile.mkdtemp(prefix="hub-gateway-bench-"))
    bench = Bench(home)
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "apis": {},
    }
    try:
        bench.start()
        key = bench.key()
        for name, make, payload in (
            ("echo", bench.echo_project, ECHO_INPUT),
            ("sklearn", bench.sklearn_project, SKLEARN_INPUT),
        ):
            project = make()
            deployed = bench.deploy(project)
            endpoint = deployed["endpoint"]
            body = json.dumps(payload).encode()
            vdir = home / "platform" / "versions" / deployed["build_id"]
            gateway = bench.latency(endpoint, key, body, args.requests)
            inproc = in_process(project, vdir / "model", body, args.requests)
            g, i = summarise(gateway), summarise(inproc)
            runs = [
                bench.throughput_runs(endpoint, key, body, c, args.seconds, args.runs)
                for c in (1, 16, 64)
            ]
            imports = bench.import_time(deployed["api"], args.cold_runs)
            colds = bench.cold_start(endpoint, key, deployed["api"], args.cold_runs)
            beyond = [c["wall_ms"] - c["import_ms"] for c in colds]
            results["apis"][name] = {
                "gateway": g,
                "in_process": i,
                "added_p50_ms": round(g["p50_ms"] - i["p50_ms"], 3),
                "added_p99_ms": round(g["p99_ms"] - i["p99_ms"], 3),
                "throughput": runs,
                "cold_start_ms": round(statistics.median(c["wall_ms"] for c in colds), 1),
                "import_in_worker_ms": round(statistics.median(c["import_ms"] for c in colds), 1),
                "import_fresh_interpreter_ms": round(statistics.median(imports), 1),
                "cold_start_beyond_import_ms": round(statistics.median(beyond), 1),
            }
    finally:
        bench.stop()
        shutil.rmtree(home, ignore_errors=True)

    for name, r in results["apis"].items():
        print(f"\n{name}")
        print(
            f"  latency p50/p99: gateway {r['gateway']['p50_ms']:.3f}/{r['gateway']['p99_ms']:.3f} ms, "
            f"in-process {r['in_process']['p50_ms']:.3f}/{r['in_process']['p99_ms']:.3f} ms, "
            f"added {r['added_p50_ms']:.3f}/{r['added_p99_ms']:.3f} ms"
        )
        for t in r["throughput"]:
            print(
                f"  c={t['concurrency']:<3} {t['rps']:>8.1f} req/s [{t['rps_min']:.0f}-{t['rps_max']:.0f}]"
                f"  p50 {t['p50_ms']:.2f} ms  p99 {t['p99_ms']:.2f} ms  errors {t['errors']}"
            )
        print(
            f"  cold start (GET from zero workers) {r['cold_start_ms']:.0f} ms, of which importing "
            f"main.py {r['import_in_worker_ms']:.0f} ms: {r['cold_start_beyond_import_ms']:.0f} ms "
            f"beyond the handler's import (import in a fresh interpreter: "
            f"{r['import_fresh_interpreter_ms']:.0f} ms)"
        )
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
