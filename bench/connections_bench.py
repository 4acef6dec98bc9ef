"""Connections held open while others are served, and how soon the platform closes idle ones.

    python bench/connections_bench.py [--seconds 5] [--held 0,100,1000] [--out results.json]

A real platform process (temporary HUB_HOME, free loopback port, no quota or rate limit, the
default connection deadlines) with an echo API deployed by the CLI:

- served while held: ``--held`` connections are opened first, half of them idle (connected,
  nothing sent) and half slowloris (the first line of a request and one header, then nothing);
  then one normal client sends sequential POSTs over a keep-alive connection for ``--seconds``.
  Its requests/s and latency percentiles show what the held connections cost the others. Each
  window is shorter than the header deadline, so the held connections are all still open (the
  table says how many the platform still had open at the end).
- time to close: one connection that sends nothing, one slowloris and one idle after a
  response, opened together; the seconds until the platform closed each (compare with the
  deadlines of ``http`` in the platform config: keep-alive 20 s, headers 10 s).

Prints a table and writes one JSON document (``--out``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_bench import ECHO_INPUT, Bench, pct  # noqa: E402

SLOW_HEAD = b"POST /bench/echo HTTP/1.1\r\nHost: bench\r\n"


def hold(port: int, n: int) -> list[socket.socket]:
    """``n`` connections: even ones idle, odd ones slowloris."""
    held = []
    for i in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        if i % 2:
            sock.sendall(SLOW_HEAD)
        held.append(sock)
    return held


def still_open(socks: list[socket.socket]) -> int:
    """How many of ``socks`` the server has not closed (EOF readable means closed)."""
    count = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            count += sock.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            count += 1  # nothing to read: still open
        except OSError:
            pass
    return count


def serve_window(bench: Bench, key: str, seconds: float) -> dict:
    """Sequential POSTs over one keep-alive connection for ``seconds``."""
    conn = http.client.HTTPConnection("127.0.0.1", bench.port, timeout=30)
    body = json.dumps(ECHO_INPUT).encode()
    headers = {"x-api-key": key, "Content-Type": "application/json"}
    latencies, errors = [], 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        conn.request("POST", "/bench/echo", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        latencies.append((time.perf_counter() - t0) * 1000)
        errors += resp.status != 200
    conn.close()
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(pct(latencies, 50), 3),
        "p99_ms": round(pct(latencies, 99), 3),
        "errors": errors,
    }


def time_to_close(port: int) -> dict:
    """Seconds until the platform closes a silent, a slowloris and an idle keep-alive one."""

    def silent(sock):
        pass

    def slowloris(sock):
        sock.sendall(SLOW_HEAD)

    def after_response(sock):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
        data = b""
        while b"}" not in data:
            data += sock.recv(65536)

    results: dict = {}

    def run(name, start):
        sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        t0 = time.perf_counter()
        start(sock)
        try:
            while sock.recv(65536):
                pass
            results[name] = round(time.perf_counter() - t0, 2)
        except OSError as err:
            results[name] = f"not closed ({err})"
        sock.close()

    threads = [
        threading.Thread(target=run, args=(name, fn))
        for name, fn in (
            ("sends_nothing_s", silent),
            ("slowloris_s", slowloris),
            ("idle_after_response_s", after_response),
        )
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--held", default="0,100,1000")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process holds them all

    home = Path(tempfile.mkdtemp(prefix="hub-connections-bench-"))
    bench = Bench(home)
    results: dict = {"machine": {"cpus": os.cpu_count(), "load": os.getloadavg()}, "held": []}
    try:
        bench.start()
        key = bench.key()
        bench.deploy(bench.echo_project())
        serve_window(bench, key, 1.0)  # warm: a worker is loaded
        for n in (int(x) for x in args.held.split(",")):
            held = hold(bench.port, n)
            try:
                window = serve_window(bench, key, args.seconds)
                window.update(held=n, still_open_after=still_open(held))
            finally:
                for sock in held:
                    sock.close()
            results["held"].append(window)
            time.sleep(1.0)  # let the platform see those closed
        results["time_to_close"] = time_to_close(bench.port)
    finally:
        bench.stop()
        shutil.rmtree(home, ignore_errors=True)

    print(f"{'held':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'open':>6}")
    for w in results["held"]:
        print(
            f"{w['held']:>6} {w['rps']:>8.1f} {w['p50_ms']:>8.3f} {w['p99_ms']:>8.3f} "
            f"{w['errors']:>6} {w['still_open_after']:>6}"
        )
    print("time to close:", results["time_to_close"])
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
