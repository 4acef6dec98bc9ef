"""The gateway against the bare limit, alternating, on a shared machine: echo at c16 and c64.

    python bench/gateway_ab.py [--rounds 3] [--seconds 5] [--before REV] [--json-out FILE]
    python bench/gateway_ab.py --ours-path COPY --also NAME=COPY2 ...   # copies of the package

Starts, once each and side by side, the bare limit (``bench/peers/bare_app.py``: uvicorn
``--workers 2``, Starlette, the echo handler called inline: serving.py's tuned bare) and ours
(a real platform from this checkout, the echo API deployed by the real CLI with one warm worker
and at most two, a plan without quota or rate limit: every check and the metering still run),
and with ``--before REV`` also the platform of that git revision (a copy of its files on this
interpreter). Then ``--rounds`` rounds: in each, for each concurrency, one wrk run per system,
the systems' order rotating from round to round, so a change of the machine's load touches all
of them alike. Every run records the 1-minute load average before it.

Reports, per concurrency, each system's median requests/s (successful answers only) with its
spread, the ratio ours/bare (and ours/before, and each ``--also`` copy over bare) of each round,
median, min and max, and each system's CPU time per request (its root process, and the sum of
its children: bare's two uvicorn workers, ours' API workers), which moves less with the
machine's load than requests/s do. A copy of the package (``--ours-path``, ``--also``) runs with
it first on ``PYTHONPATH`` (the CLI and the platform run in a folder of their own, so this
checkout's package does not shadow it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "peers"))

import handlers  # noqa: E402
import ours_driver  # noqa: E402
import serving  # noqa: E402
from control_bench import checkout  # noqa: E402


def cpu_seconds(root: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far: by ``root`` itself, and by its descendants."""
    out = {"root": 0.0, "children": 0.0}
    for proc in serving.process_tree([root]):
        try:
            t = proc.cpu_times()
        except Exception:  # noqa: BLE001 - gone meanwhile
            continue
        out["root" if proc.pid == root else "children"] += t.user + t.system
    return out


def start_bare() -> tuple[subprocess.Popen, int]:
    """serving.py's tuned bare limit for echo; returns the process and its port."""
    port = serving.free_port()
    argv = [sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", "2", "--no-access-log", "--log-level", "warning"]
    env = {**os.environ, "BENCH_HANDLER": "echo", "BARE_INLINE": "1"}
    proc = subprocess.Popen(
        argv, cwd=HERE / "peers", env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    serving.wait_ready(port, "/health", None, None, {})
    return proc, port


def start_ours(work: Path, pythonpath: str | None):
    """A platform (of ``pythonpath``'s copy, or this checkout) with serving.py's tuned echo API
    (one warm worker, at most two); returns its driver and server (url, key, pids)."""
    work.mkdir(parents=True)
    (work / "model").mkdir()
    platform = ours_driver.OursPlatform(work, work / "model")
    if pythonpath:
        platform.env["PYTHONPATH"] = pythonpath
    server = platform.start("tuned", "echo")
    return platform, server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--before", default=None, metavar="REV")
    parser.add_argument(
        "--ours-path", default=None, help="PYTHONPATH of ours (a copy of the package)"
    )
    parser.add_argument("--before-path", default=None, help="as --before, a copy already made")
    parser.add_argument(
        "--also", action="append", default=[], metavar="NAME=PATH",
        help="one more platform: a copy of the package at PATH, reported as NAME (repeatable)",
    )  # fmt: skip
    parser.add_argument("--no-bare", action="store_true", help="ours (and --before) only")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    wrk = serving.ensure_wrk(False)
    levels = [int(c) for c in args.concurrency.split(",")]

    work = Path(tempfile.mkdtemp(prefix="hub-gateway-ab-"))
    body = work / "echo.json"
    body.write_text(handlers.PAYLOADS["echo"])
    systems: dict[str, dict] = {}
    stops = []
    try:
        if not args.no_bare:
            proc, port = start_bare()
            stops.append(lambda: serving.stop_tree([proc.pid]))
            systems["bare"] = {
                "url": f"http://127.0.0.1:{port}/predict",
                "key": None,
                "pid": proc.pid,
            }
        ours, server = start_ours(work / "ours", args.ours_path)
        stops.append(server.stop)
        systems["ours"] = {
            "url": f"http://127.0.0.1:{server.port}{server.path}",
            "key": server.api_key,
            "pid": ours.pid,
        }
        if args.before or args.before_path:
            copy = args.before_path or checkout(
                args.before, Path(tempfile.mkdtemp(prefix="hub-ab-before-"))
            )
            before, bserver = start_ours(work / "before", copy)
            stops.append(bserver.stop)
            systems["before"] = {
                "url": f"http://127.0.0.1:{bserver.port}{bserver.path}",
                "key": bserver.api_key,
                "pid": before.pid,
            }
        for spec in args.also:
            name, _, path_ = spec.partition("=")
            other, oserver = start_ours(work / name, path_)
            stops.append(oserver.stop)
            systems[name] = {
                "url": f"http://127.0.0.1:{oserver.port}{oserver.path}",
                "key": oserver.api_key,
                "pid": other.pid,
            }
        names = list(systems)
        for name in names:  # warm-up, not counted
            serving.run_wrk(wrk, systems[name]["url"], body, 16, 2, False, systems[name]["key"])
        runs: list[dict] = []
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for c in levels:
                for name in order:
                    load = round(os.getloadavg()[0], 2)
                    s = systems[name]
                    cpu_before = cpu_seconds(s["pid"])
                    out = serving.run_wrk(wrk, s["url"], body, c, args.seconds, False, s["key"])
                    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds(s["pid"]).items()}
                    out["cpu_us_per_request"] = {
                        k: round(v * 1e6 / max(out["requests"], 1), 1) for k, v in cpu.items()
                    }
                    runs.append(
                        {"round": r, "system": name, "concurrency": c, "load1": load, **out}
                    )
                    print(
                        f"round {r} c{c} {name:>6}: {out['rps']:>9.1f} req/s  p50 {out['p50_ms']} ms"
                        f"  errors {out['errors']}  cpu us/req {out['cpu_us_per_request']}  (load {load})",
                        flush=True,
                    )
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as err:  # noqa: BLE001 - stop the others anyway
                print(f"stopping failed: {err}", file=sys.stderr)

    result: dict = {
        "seconds": args.seconds,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "by_concurrency": {},
    }
    for c in levels:
        entry: dict = {}
        for name in systems:
            rps = [x["rps"] for x in runs if x["system"] == name and x["concurrency"] == c]
            cpu = [
                x["cpu_us_per_request"]
                for x in runs
                if x["system"] == name and x["concurrency"] == c
            ]
            entry[name] = {
                "rps": serving.summarise(rps),
                "runs": rps,
                "cpu_us_per_request": {
                    k: serving.summarise([x[k] for x in cpu]) for k in ("root", "children")
                },
            }
        pairs = [("ours", "bare"), ("ours", "before"), ("before", "bare")]
        pairs += [(spec.partition("=")[0], "bare") for spec in args.also]
        for top, base in pairs:
            if top in systems and base in systems:
                ratios = []
                for r in range(args.rounds):
                    a = [
                        x["rps"]
                        for x in runs
                        if (x["round"], x["system"], x["concurrency"]) == (r, top, c)
                    ]
                    b = [
                        x["rps"]
                        for x in runs
                        if (x["round"], x["system"], x["concurrency"]) == (r, base, c)
                    ]
                    if a and b and b[0]:
                        ratios.append(round(a[0] / b[0], 3))
                entry[f"{top}/{base}"] = {**serving.summarise(ratios), "rounds": ratios}
        loads = [x["load1"] for x in runs if x["concurrency"] == c]
        entry["load1"] = serving.summarise(loads)
        result["by_concurrency"][str(c)] = entry
        ratio_text = "  ".join(
            f"{k} {v['median']:.2f} ({v['min']:.2f}-{v['max']:.2f})"
            for k, v in entry.items()
            if "/" in k and v["median"] is not None
        )
        print(
            f"c{c}: "
            + "  ".join(
                f"{n} {entry[n]['rps']['median']:.0f} (cpu us/req {entry[n]['cpu_us_per_request']['root']['median']:.0f}"
                f"+{entry[n]['cpu_us_per_request']['children']['median']:.0f})"
                for n in systems
            )
            + f" req/s; {ratio_text}; load {entry['load1']['min']}-{entry['load1']['max']}"
        )
    result["runs"] = runs
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
