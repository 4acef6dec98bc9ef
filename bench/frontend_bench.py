"""Frontend benchmark: the production labextension's size, and the time until 100,000 log lines
of a real job are shown in the real log panel in Chromium.

It builds the production bundle in a temporary copy of the frontend (so the development build
that JupyterLab serves from ``jupyter_hub_api/labextension`` is left alone), starts a real
``jupyter lab`` that loads that production build (``JUPYTER_PATH`` first), and drives the log
panel with ``bench/frontend_log_bench.js`` (Playwright + Debian's Chromium) through the public
``hub-api:deploy`` command: a job whose process prints the lines.

    python bench/frontend_bench.py --json-out frontend.json [--lines 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOG_PROJECT = "logbench"
# What the benchmark's jobs run instead of `hub build`: N log lines with ANSI colours.
LINE_PRINTER = (
    "import sys\n"
    "for i in range(int(sys.argv[-1])):\n"
    "    print(f'line {i} \\x1b[32mok\\x1b[0m some text to make it a realistic length')\n"
)


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_production(work: Path) -> Path:
    """Build the production labextension in a copy of the frontend; answer its folder."""
    src = work / "frontend"
    src.mkdir()
    for name in ("package.json", "tsconfig.json", "install.json"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    for name in ("src", "style", "schema"):
        shutil.copytree(ROOT / name, src / name)
    (src / "node_modules").symlink_to(ROOT / "node_modules")
    subprocess.run([str(ROOT / "node_modules" / ".bin" / "tsc")], cwd=src, check=True)
    subprocess.run(
        [str(BIN / "jupyter-builder"), "build", "."], cwd=src, check=True, capture_output=True
    )
    return src / "jupyter_hub_api" / "labextension"


def bundle_size(ext: Path) -> dict:
    """Bytes of the static folder, and of its JavaScript raw and gzipped."""
    static = ext / "static"
    files = [p for p in static.rglob("*") if p.is_file()]
    js = [p for p in files if p.suffix == ".js"]
    return {
        "static_bytes": sum(p.stat().st_size for p in files),
        "static_files": len(files),
        "js_bytes": sum(p.stat().st_size for p in js),
        "js_gzip_bytes": sum(len(gzip.compress(p.read_bytes(), 9)) for p in js),
    }


def wait_http(url: str, timeout: float) -> None:
    """Wait until ``url`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def measure_log_panel(work: Path, ext: Path, lines: int, runs: int) -> dict:
    """Start jupyter lab with the production build and time the log panel in Chromium."""
    share = work / "share" / "jupyter" / "labextensions"
    share.mkdir(parents=True)
    (share / "jupyter-hub-api").symlink_to(ext)
    root = work / "root"
    root.mkdir()
    # The log panel is driven the way a user's job drives it: a real job of the server
    # extension whose process prints the lines (`hub_command` swapped for a line printer),
    # streamed over the job's WebSocket into the panel that the deploy command opens.
    (root / LOG_PROJECT).mkdir()
    (root / LOG_PROJECT / "hub_config.json").write_text("{}\n")
    (work / "config").mkdir()
    (work / "config" / "jupyter_server_config.py").write_text(
        f"c.HubAPIApp.hub_command = {[sys.executable, '-c', LINE_PRINTER]!r}\n"
        f"c.HubAPIApp.job_commands = {{'build': [{str(lines)!r}]}}\n"
    )
    env = dict(os.environ)
    env.update(
        JUPYTER_PATH=str(work / "share" / "jupyter"),
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        HUB_HOME=str(work / "hub"),
        HOME=str(work / "home"),
        # The deployments panel starts a platform on demand: its own port, never the user's.
        HUB_PLATFORM_URL=f"http://127.0.0.1:{free_port()}",
    )
    port = free_port()
    server = subprocess.Popen(
        [
            str(BIN / "jupyter-lab"),
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--ServerApp.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--allow-root",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/lab"
        wait_http(url, 90)
        out = subprocess.run(
            [
                "node",
                str(ROOT / "bench" / "frontend_log_bench.js"),
                url,
                str(lines),
                str(runs),
                LOG_PROJECT,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        # The platform outlives the server (it is a daemon of its data directory): stop it.
        subprocess.run(
            [str(BIN / "hub"), "platform", "stop"], env=env, capture_output=True, timeout=60
        )


def main() -> int:
    """Run both measures and print (or write) the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json-out", help="write the JSON result to this file")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hub-frontend-bench-") as tmp:
        work = Path(tmp)
        ext = build_production(work)
        size = bundle_size(ext)
        panel = measure_log_panel(work, ext, args.lines, args.runs)
    times = sorted(r["ms"] for r in panel["runs"])
    result = {
        "bundle": size,
        "log_panel": {
            "lines": args.lines,
            "runs_ms": [round(r["ms"], 1) for r in panel["runs"]],
            "median_ms": round(times[len(times) // 2], 1),
            "dom_rows": panel["runs"][-1]["domRows"],
            "scroll_to_top_ms": [round(r["scrollMs"], 1) for r in panel["runs"]],
            "js_heap_bytes": panel["runs"][-1].get("heap"),
        },
    }
    text = json.dumps(result, indent=1)
    if args.json_out:
        Path(args.json_out).write_text(text)
    print(text)
    print(
        f"labextension (production): {size['static_bytes'] / 1024:.0f} KB in {size['static_files']} files, "
        f"JS {size['js_gzip_bytes'] / 1024:.0f} KB gzipped; "
        f"{args.lines:,} log lines of a job shown in {result['log_panel']['median_ms']:.0f} ms "
        f"(median of {args.runs}), {result['log_panel']['dom_rows']} DOM rows",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
