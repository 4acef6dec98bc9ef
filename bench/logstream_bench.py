"""Log streaming of the server extension: latency and throughput, job process → WebSocket client.

Starts a real ``jupyter server`` with the extension, whose job runner is configured (for this
benchmark only: the product runs ``hub``) to run this file as the job's process:

* latency: the process prints JSON ``log`` events, one every ``--interval`` seconds, each with
  the time it was printed; a WebSocket client on ``/hub-api/jobs/<id>/events`` notes when each
  arrives. p50 / p99 / max of (arrival - printed).
* throughput: the process prints 100,000 events as fast as it can; lines per second from the
  job's ``POST`` to the last event at the client, and the job's own run time.
* cancel: a job whose process has a child that would sleep a minute; time from ``POST
  .../cancel`` until the client gets the ``cancelled`` record (sent once the group is gone).

Baseline in the same run: the same process read straight from a pipe by this script (no
server, no store, no socket): the floor any streaming design starts from.

    python bench/logstream_bench.py [--lines 100000] [--latency-lines 2000] [--interval 0.002]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

HERE = Path(__file__).resolve()


# -- the job's process ------------------------------------------------------------------------
def emit(mode: str, count: int, interval: float) -> None:
    """What the job runs: JSON log events on stdout, line-buffered like `hub --json`."""
    out = sys.stdout
    if mode == "hang":
        # A process tree that would run for a minute: this process and a child, both in the
        # job's process group, both ignoring nothing (as hub and uv do).
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # noqa: S603
        out.write(
            json.dumps({"event": "log", "stream": "stdout", "line": f"child {child.pid}"}) + "\n"
        )
        out.flush()
        child.wait()
        return
    if mode == "latency":
        for i in range(count):
            out.write(
                json.dumps(
                    {
                        "event": "log",
                        "stream": "stdout",
                        "line": f"line {i}",
                        "printed": time.time(),
                    }
                )
                + "\n"
            )
            out.flush()
            time.sleep(interval)
    else:
        line = '{"event": "log", "stream": "stdout", "line": "pip: Collecting some-package==1.2.3 (from -r requirements.txt) %d"}\n'
        for i in range(count):
            out.write(line % i)
        out.flush()


# -- measuring --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workdir: Path, lines: int, latency_lines: int, interval: float):
    """A jupyter server whose jobs run this file's ``emit`` instead of hub."""
    root = workdir / "root"
    (root / "bench").mkdir(parents=True)
    (root / "bench" / "hub_config.json").write_text('{"name": "bench", "version": "1"}')
    config_dir = workdir / "config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "HubAPIApp": {
                    "jobs_dir": str(workdir / "jobs"),
                    "hub_command": [sys.executable, str(HERE), "emit"],
                    "job_commands": {
                        "build": ["latency", str(latency_lines), str(interval)],
                        "deploy": ["throughput", str(lines), "0"],
                        "build+deploy": ["hang", "0"],
                    },
                }
            }
        )
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(
        HOME=str(workdir),
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(workdir / "data"),
        JUPYTER_RUNTIME_DIR=str(workdir / "runtime"),
        HUB_HOME=str(workdir / "hub-home"),
    )
    proc = subprocess.Popen(  # noqa: S603 - argv list
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.jpserver_extensions=jupyter_hub_api=True",
            "--ServerApp.log_level=WARN",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "server.log", "wb"),  # noqa: SIM115
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if (
                httpx.get(
                    f"{base}/hub-api/jobs", headers={"Authorization": f"token {token}"}
                ).status_code
                == 200
            ):
                return proc, base, token
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(
                f"the server did not start: {(workdir / 'server.log').read_text()[-2000:]}"
            )
        time.sleep(0.2)


async def run_job(base: str, token: str, kind: str) -> tuple[list[tuple[dict, float]], float, dict]:
    """POST a job, follow its socket to the end; (events with arrival times, post time, job)."""
    headers = {"Authorization": f"token {token}"}
    async with httpx.AsyncClient(headers=headers) as client:
        posted = time.time()
        job = (
            await client.post(f"{base}/hub-api/jobs", json={"kind": kind, "project": "bench"})
        ).json()
    ws = await websocket_connect(
        HTTPRequest(
            f"{base.replace('http', 'ws')}/hub-api/jobs/{job['id']}/events?offset=0",
            headers=headers,
        ),
        max_message_size=256 << 20,
    )
    received: list[tuple[dict, float]] = []
    final = None
    while True:
        message = await ws.read_message()
        now = time.time()
        if message is None:
            break
        data = json.loads(message)
        if data["type"] == "events":
            received.extend((e, now) for e in data["events"])
        else:
            final = data["job"]
    return received, posted, final


async def cancel_time(base: str, token: str) -> float:
    """Seconds from POST .../cancel to the job's final `cancelled` record at the client."""
    headers = {"Authorization": f"token {token}"}
    async with httpx.AsyncClient(headers=headers) as client:
        job = (
            await client.post(
                f"{base}/hub-api/jobs", json={"kind": "build+deploy", "project": "bench"}
            )
        ).json()
        ws = await websocket_connect(
            HTTPRequest(
                f"{base.replace('http', 'ws')}/hub-api/jobs/{job['id']}/events", headers=headers
            )
        )
        while True:  # until the child runs
            data = json.loads(await ws.read_message())
            if data["type"] == "events" and any(
                "child" in e.get("line", "") for e in data["events"]
            ):
                break
        started = time.monotonic()
        await client.post(f"{base}/hub-api/jobs/{job['id']}/cancel")
        while True:
            message = await ws.read_message()
            if message is None:
                raise SystemExit("the job socket closed before the job was cancelled")
            data = json.loads(message)
            if data["type"] == "job" and data["job"]["state"] == "cancelled":
                return time.monotonic() - started


def baseline(mode: str, count: int, interval: float) -> tuple[list[float], float]:
    """The same process read straight from a pipe: latencies, or seconds for all lines."""
    started = time.time()
    proc = subprocess.Popen(  # noqa: S603 - argv list
        [sys.executable, str(HERE), "emit", mode, str(count), str(interval)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    latencies = []
    for raw in proc.stdout:
        if mode == "latency":
            latencies.append(time.time() - json.loads(raw)["printed"])
    proc.wait()
    return latencies, time.time() - started


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--latency-lines", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=0.002)
    parser.add_argument("--json-out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="logstream-bench-") as tmp:
        proc, base, token = start_server(Path(tmp), args.lines, args.latency_lines, args.interval)
        try:
            received, _, job = asyncio.run(run_job(base, token, "build"))
            assert job["state"] == "succeeded", job
            lat = [
                (arrived - e["printed"]) * 1000
                for e, arrived in received
                if e.get("event") == "log"
            ]
            received, posted, job = asyncio.run(run_job(base, token, "deploy"))
            assert job["state"] == "succeeded", job
            logs = [r for r in received if r[0].get("event") == "log"]
            assert len(logs) == args.lines, len(logs)
            end_to_end = received[-1][1] - posted
            cancels = [asyncio.run(cancel_time(base, token)) for _ in range(5)]
            job_seconds = (
                datetime.fromisoformat(job["finished_at"])
                - datetime.fromisoformat(job["started_at"])
            ).total_seconds()
        finally:
            proc.terminate()
            proc.wait(20)

    base_lat, _ = baseline("latency", args.latency_lines, args.interval)
    base_lat = [x * 1000 for x in base_lat]
    _, base_seconds = baseline("throughput", args.lines, 0)

    print(f"log streaming, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"latency, printed -> received ({len(lat)} lines, one every {args.interval * 1000:g} ms)")
    print(
        f"  via server + WebSocket: p50 {pct(lat, 50):.2f} ms  p99 {pct(lat, 99):.2f} ms  max {max(lat):.2f} ms"
    )
    print(
        f"  baseline, raw pipe:     p50 {pct(base_lat, 50):.2f} ms  p99 {pct(base_lat, 99):.2f} ms"
    )
    print(f"throughput, {args.lines:,} lines")
    print(
        f"  via server + WebSocket: {args.lines / end_to_end:,.0f} lines/s "
        f"({end_to_end:.2f} s from POST to the last line at the client; job ran {job_seconds:.2f} s)"
    )
    print(
        f"  baseline, raw pipe:     {args.lines / base_seconds:,.0f} lines/s ({base_seconds:.2f} s)"
    )
    print(
        f"  {statistics.mean(len(json.dumps(e)) for e, _ in logs[:1000]):.0f} bytes per stored event"
    )
    print(
        "cancel, POST .../cancel -> `cancelled` at the client (process group gone), 5 runs: "
        + ", ".join(f"{c * 1000:.0f} ms" for c in cancels)
    )
    figures = {
        "latency_ms": {
            "server_websocket": {"p50": round(pct(lat, 50), 3), "p99": round(pct(lat, 99), 3)},
            "raw_pipe": {"p50": round(pct(base_lat, 50), 3), "p99": round(pct(base_lat, 99), 3)},
        },
        "throughput_lines_per_s": {
            "server_websocket": round(args.lines / end_to_end),
            "raw_pipe": round(args.lines / base_seconds),
        },
        "cancel_ms": [round(c * 1000, 1) for c in cancels],
        "lines": args.lines,
    }
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "emit":
        mode = sys.argv[2]
        emit(mode, int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 0.0)
    else:
        main()
