"""What the engine costs behind HTTP: a bare uvicorn + Starlette app calling the handler
in-process, against the same app calling it through the local engine.

    python bench/engine_http_bench.py [--requests 4000] [--workers 1] [--rounds 3]

Both servers run as their own processes (uvicorn with uvloop and httptools); the load generator
is a small keep-alive HTTP/1.1 client in this process. This isolates the engine's share of the
gateway's cost (no keys, quotas or metering here: the platform's own benchmark measures those).
"""

from __future__ import annotations

import argparse
import asyncio
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

ECHO = """from hub import hub_handler

@hub_handler
def inference_handler(inputs, context):
    return inputs
"""


def serve(mode: str, port: int, src: Path, model: Path, runtime: Path, workers: int) -> None:
    """Run one of the two servers (in a child process)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    if mode == "inproc":
        os.environ["MODEL_DIR"] = str(model)
        sys.path.insert(0, str(src))
        import main  # noqa: F401 - registers the handler

        import hub

        handler = hub.registered_handlers()[0]

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            invocation_id = uuid.uuid4().hex
            output = json.dumps(handler(json.loads(body), None), separators=(",", ":")).encode()
            return Response(
                b'{"statusCode":200,"body":{"output":'
                + output
                + b',"invocation_id":"'
                + invocation_id.encode()
                + b'"}}',
                media_type="application/json",
            )

        app = Starlette(routes=[Route("/", endpoint, methods=["POST"])])
    else:
        from contextlib import asynccontextmanager

        from jupyter_hub_api.platform.engines import VersionSpec
        from jupyter_hub_api.platform.engines.local import LocalEngine

        engine = LocalEngine(read_only_paths=[runtime])  # under /tmp: a sandbox hides it
        spec = VersionSpec(
            version_id="echo",
            api="bench/echo",
            src_dir=src,
            model_dir=model,
            python=Path(sys.executable),
            env={"PYTHONPATH": str(runtime)},
            max_workers=workers,
            min_workers=workers,
        )

        @asynccontextmanager
        async def lifespan(app):
            await engine.start()
            await engine.deploy(spec)
            await engine.warm("echo")
            yield
            await engine.stop()

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            invocation_id = uuid.uuid4().hex
            result = await engine.invoke("echo", body, invocation_id)
            return Response(
                b'{"statusCode":200,"body":{"output":'
                + result.output_json
                + b',"invocation_id":"'
                + invocation_id.encode()
                + b'"}}',
                media_type="application/json",
            )

        app = Starlette(routes=[Route("/", endpoint, methods=["POST"])], lifespan=lifespan)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def load(port: int, concurrency: int, total: int, body: bytes) -> tuple[float, list[float]]:
    """Send ``total`` POSTs over ``concurrency`` keep-alive connections: (req/s, latencies us)."""
    request = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"x-api-key: bench\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    remaining = total
    latencies: list[float] = []

    async def client() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while remaining > 0:
            remaining -= 1
            t = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            payload = await reader.readexactly(length)
            latencies.append((time.perf_counter() - t) * 1e6)
            assert head.startswith(b"HTTP/1.1 200"), head + payload
        writer.close()

    t = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return total / (time.perf_counter() - t), latencies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=1, help="engine max_workers")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--json-out", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--serve", choices=["inproc", "engine"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        root = args.root
        serve(args.serve, args.port, root / "src", root / "model", root / "runtime", args.workers)
        return

    import uvloop

    root = Path(tempfile.mkdtemp(prefix="hub-http-bench-"))
    (root / "src").mkdir()
    (root / "model").mkdir()
    (root / "src" / "main.py").write_text(ECHO)
    shutil.copytree(REPO / "hub", root / "runtime" / "hub")
    body = json.dumps({"text": "hello world", "n": [1, 2, 3]}).encode()
    modes = ("inproc", "engine")
    servers, ports = [], {}
    # samples[mode][concurrency] = [(rps, p50, p99), ...], one per round
    samples: dict[str, dict[int, list]] = {m: {1: [], 16: [], 64: []} for m in modes}
    try:
        for mode in modes:
            ports[mode] = free_port()
            argv = [sys.executable, __file__, "--serve", mode, "--port", str(ports[mode])]
            argv += ["--root", str(root), "--workers", str(args.workers)]
            servers.append(subprocess.Popen(argv, start_new_session=True))
        for mode in modes:
            wait_for_port(ports[mode])
        # Both servers are up; rounds alternate between them so that a change in the
        # machine's background load touches both alike.
        for _ in range(args.rounds):
            for concurrency in (1, 16, 64):
                for mode in modes:
                    uvloop.run(load(ports[mode], concurrency, 200, body))  # warm-up
                    rps, lat = uvloop.run(load(ports[mode], concurrency, args.requests, body))
                    lat.sort()
                    samples[mode][concurrency].append(
                        (rps, lat[len(lat) // 2], lat[int(len(lat) * 0.99)])
                    )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)

    def median(rows, i):
        return statistics.median(row[i] for row in rows)

    report = {"cpus": os.cpu_count(), "max_workers": args.workers, "rounds": args.rounds}
    for concurrency in (1, 16, 64):
        a, b = samples["inproc"][concurrency], samples["engine"][concurrency]
        report[f"c{concurrency}"] = {
            "in_process": {"rps": median(a, 0), "p50_us": median(a, 1), "p99_us": median(a, 2)},
            "engine": {"rps": median(b, 0), "p50_us": median(b, 1), "p99_us": median(b, 2)},
            "throughput_ratio": statistics.median(
                eb[0] / ea[0] for ea, eb in zip(a, b, strict=True)
            ),
            "added_p50_us": median(b, 1) - median(a, 1),
        }
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=1))

    print(
        f"echo over HTTP, {os.cpu_count()} CPUs, engine max_workers={args.workers}, "
        f"median of {args.rounds} alternating rounds of {args.requests} requests"
    )
    for concurrency in (1, 16, 64):
        a, b = samples["inproc"][concurrency], samples["engine"][concurrency]
        ratios = [eb[0] / ea[0] for ea, eb in zip(a, b, strict=True)]
        print(
            f"c={concurrency:>2}: in-process {median(a, 0):7.0f} req/s p50 {median(a, 1):6.0f} us "
            f"p99 {median(a, 2):6.0f} us | engine {median(b, 0):7.0f} req/s p50 "
            f"{median(b, 1):6.0f} us p99 {median(b, 2):6.0f} us | throughput ratio "
            f"{statistics.median(ratios):.0%}, added p50 {median(b, 1) - median(a, 1):+.0f} us"
        )


if __name__ == "__main__":
    main()
