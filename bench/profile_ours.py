"""Where the time goes in ours: a py-spy profile of the platform under echo load.

Deploys the echo API (tuned: one warm worker, max_workers 2) on a private platform exactly as
serving.py does, loads it with wrk at concurrency 16 and samples the platform process, its
workers and its metering process with py-spy at the same time. The platform's samples are sorted
into buckets (metering, engine IPC, HTTP response writes, HTTP parsing, gateway checks, event
loop); for each worker, the share of samples spent waiting for the next frame.

    python bench/profile_ours.py --py-spy .work/bench-peers/venv/bin/py-spy [--json-out FILE]

A process's "busy" share is its samples over (rate × seconds): py-spy records only threads that
are running or runnable, so the rest is time the process was idle.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "peers"))

import handlers  # noqa: E402
import ours_driver  # noqa: E402
import serving  # noqa: E402

RATE = 200
SECONDS = 5

# First match wins, checked against every frame of a sample (leaf to root): the order puts the
# specific work before the generic layers that call it.
BUCKETS = (
    (
        "metering: usage rows and SQLite commits",
        ("Database.", "Invocations.", "MeterChannel.", "store/"),
    ),
    (
        "engine: frames to and from the workers",
        ("Worker.", "Pool.", "FrameReader.", "OutputPipes.", "LocalEngine."),
    ),
    ("HTTP: writing responses (http._Cycle)", ("_Cycle.send", "_Cycle._start", "_Cycle._body")),
    (
        "HTTP: parsing requests (httptools, http.PlatformHttpProtocol)",
        ("HttpToolsProtocol.", "PlatformHttpProtocol."),
    ),
    (
        "gateway: key, quota and body checks, envelope",
        ("Gateway.", "KeyRing.", "quotas.py", "RateLimiter"),
    ),
)
OTHER = "event loop and the rest"


def classify(frames: list[str]) -> str:
    """The bucket of one sample (its frames, root first)."""
    for label, needles in BUCKETS:
        for frame in reversed(frames):
            if any(needle in frame for needle in needles):
                return label
    return OTHER


def read_samples(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) output: one ``frame;frame;... count`` per line."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            out.append((stack.split(";"), int(count)))
    return out


def main() -> int:
    """Profile, print and (optionally) write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy executable")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--raw-dir", type=Path, help="also keep py-spy's raw samples of each process here"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hub-bench-profile-"))
    subprocess.run(
        [sys.executable, str(HERE / "peers" / "train_model.py"), str(work / "model")],
        check=True,
        capture_output=True,
    )
    body = work / "echo.json"
    body.write_text(handlers.PAYLOADS["echo"])
    platform = ours_driver.OursPlatform(work / "ours", work / "model")
    server = platform.start("tuned", "echo")
    try:
        url = f"http://127.0.0.1:{server.port}{server.path}"
        serving.run_wrk("wrk", url, body, 16, 2, False, server.api_key)  # warm-up
        procs = serving.process_tree(server.pids())
        roles = {p.pid: _role(p) for p in procs}
        env = {**os.environ, "BENCH_BODY_FILE": str(body), "BENCH_API_KEY": server.api_key}
        load = subprocess.Popen(
            ["wrk", "-t1", "-c16", f"-d{SECONDS + 3}s", "-s", str(HERE / "wrk_post.lua"), url],
            env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1)
        spies = []
        for i, proc in enumerate(procs):
            if not _is_python(proc):
                continue  # the sandbox's bubblewrap: nothing py-spy can read (listed below)
            out = work / f"spy-{i}.txt"
            argv = [args.py_spy, "record", "-p", str(proc.pid), "-d", str(SECONDS), "-r", str(RATE)]
            argv += ["-f", "raw", "-o", str(out), "--nonblocking"]
            spies.append(
                (
                    proc,
                    out,
                    subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
                )
            )
        for _, _, spy in spies:
            spy.wait(timeout=SECONDS + 30)
        wrk_line = next(
            (x for x in load.communicate()[0].splitlines() if x.startswith("BENCH_JSON ")), None
        )
    finally:
        server.stop()
        platform.close()

    possible = RATE * SECONDS
    result = {
        "load": "wrk, echo, concurrency 16",
        "rate_hz": RATE,
        "seconds": SECONDS,
        "processes": [],
    }
    if wrk_line:
        raw = json.loads(wrk_line[len("BENCH_JSON ") :])
        result["rps"] = round(raw["requests"] / (raw["duration_us"] / 1e6), 1)
    sampled = {proc.pid for proc, _, _ in spies}
    for proc in procs:
        if proc.pid not in sampled:
            result["processes"].append(
                {
                    "pid": proc.pid,
                    "role": roles.get(proc.pid, "platform"),
                    "samples": 0,
                    "busy_share": 0.0,
                    "error": "not a Python process (the worker's sandbox): not sampled",
                }
            )
    for proc, out, spy in spies:
        if args.raw_dir:
            args.raw_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(out, args.raw_dir / f"{roles.get(proc.pid, 'platform')}-{proc.pid}.txt")
        samples = read_samples(out)
        total = sum(n for _, n in samples)
        is_worker = roles.get(proc.pid) == "worker"
        entry = {"pid": proc.pid, "role": roles.get(proc.pid, "platform"), "samples": total}
        entry["busy_share"] = round(min(total / possible, 1.0), 3)
        if not total:
            entry["error"] = (
                spy.stderr.read().decode(errors="replace")[-300:] if spy.stderr else ""
            ) or "no samples"
        elif is_worker:
            waiting = sum(
                n for frames, n in samples if any("_Channel.receive" in f for f in frames)
            )
            entry["waiting_share_of_samples"] = round(waiting / total, 3)
        else:
            buckets = Counter()
            for frames, n in samples:
                buckets[classify(frames)] += n
            entry["buckets"] = {label: round(buckets[label] / total, 3) for label, _ in BUCKETS}
            entry["buckets"][OTHER] = round(buckets[OTHER] / total, 3)
        result["processes"].append(entry)
    text = json.dumps(result, indent=1)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    print(json.dumps(result))
    return 0


def _is_python(proc) -> bool:
    try:
        return proc.name().startswith("python")
    except Exception:  # noqa: BLE001 - gone meanwhile: nothing to sample
        return False


def _cmdline(proc) -> list[str]:
    try:
        return proc.cmdline()
    except Exception:  # noqa: BLE001 - the process may be gone; it is then not a worker we know
        return []


def _role(proc) -> str:
    """A worker (``hub._worker``), the metering process (SQLite's writer of the gateway's rows,
    ``store/metering.py``), or the platform itself."""
    argv = _cmdline(proc)
    if any("hub._worker" in a for a in argv):
        return "worker"
    if any(a.endswith("metering.py") for a in argv):
        return "metering"
    return "platform"


if __name__ == "__main__":
    sys.exit(main())
