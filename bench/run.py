"""Run every benchmark of bench/ in one go, then write the JSON results and BENCHMARKS.md.

Called by bench/run.sh after it installed the peers and wrk (run that, not this). Each section
runs as its own subprocess with a time limit; a missing or failing benchmark is recorded as such
and the report says so for that section, the others go on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT_DIR = REPO / ".work" / "bench"
PY = sys.executable
# Every section after serving and profile, in the order of a full run: (section, bench/<stem>.*,
# time limit in seconds, the arguments of a full run beyond the script's defaults, the arguments
# of a --quick pass, which only checks that the section still runs end to end and renders).
SECTIONS = (
    ("build", "build_bench", 400, [], ["--model-mb", "20"]),
    ("engine", "engine_bench", 300, [], ["--requests", "300", "--cold-rounds", "1"]),
    ("engine_http", "engine_http_bench", 300, [], ["--requests", "500", "--rounds", "1"]),
    # Its throughput cells repeat serving's ours/tuned ones (same gateway, same handlers): 3
    # runs of 5 s keep a spread at half the time of its default 3 x 10 s.
    ("gateway", "gateway_bench", 600, ["--seconds", "5"],
     ["--requests", "300", "--seconds", "2", "--runs", "1", "--cold-runs", "1"]),
    ("logstream", "logstream_bench", 300, [], ["--lines", "10000", "--latency-lines", "200"]),
    ("frontend", "frontend_bench", 300, [], ["--lines", "10000", "--runs", "1"]),
    ("control", "control_bench", 1200, [],
     ["--calls", "500", "--big", "2000", "--repeat", "5", "--seconds", "3"]),
    ("ray", "ray_bench", 900, [], ["--seconds", "2", "--rounds", "1", "--replicas", "1"]),
    ("gateway_ab", "gateway_ab", 600, [], ["--rounds", "1", "--seconds", "2"]),
    ("batch", "batch_bench", 900, [],
     ["--seconds", "2", "--concurrency", "16", "--stream-calls", "5"]),
    # The peers at N = 64 take minutes each to start 64 workers on 2 cores (BentoML's sklearn:
    # ~5 min in the run of 2026-12-02 15:04, whose 1200 s limit cut the last cell).
    ("fork", "fork_bench", 2400, [], ["--quick"]),
    ("scale", "scale_bench", 600, [],
     ["--users", "5", "--apis-per-user", "2", "--wake", "5", "--repeat", "3"]),
    ("database", "db_bench", 400, [], ["--seconds", "2", "--rounds", "1"]),
    ("sandbox", "sandbox_bench", 300, [], ["--rounds", "5"]),
    ("journey", "journey_bench", 900, [], ["--skip-notebook"]),
    # Only when named with --only (not part of a full run):
    ("connections", "connections_bench", 300, [], ["--seconds", "2", "--held", "0,100"]),
    ("tutorial", "tutorial_bench", 1800, [], ["--no-cold"]),
)  # fmt: skip
# The guide's tutorial builds real PyTorch + transformers environments (a cold pass downloads
# ~3 GB); the held connections repeat a property the tests check. No figure of the comparison
# needs either, so a full run leaves them out.
OPT_IN = {"connections", "tutorial"}
ALL_SECTIONS = ("serving", "profile", *(name for name, *_ in SECTIONS))
# A full run skips the bare app's default configuration: it is never the bare limit (the tuned
# bare app was 2-4x faster in every cell of the last full runs), and costs 5 cells of 31 s.
SERVING_SKIP = "bare/default"


def machine() -> dict:
    """CPU model, cores, memory, kernel, OS and load of this machine."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "kernel": platform.release(),
        "os": os_name,
        "python": platform.python_version(),
    }


def load_now() -> dict:
    """The `uptime` line and the load averages."""
    line = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {"uptime": line, "loadavg": [round(x, 2) for x in os.getloadavg()]}


def last_json(text: str):
    """The JSON document printed by a benchmark: the whole output, else its last JSON line."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def run_group(argv: list[str], cwd, log, timeout: float) -> subprocess.CompletedProcess:
    """Run a benchmark in its own process group; past ``timeout``, kill the whole group and
    every process it started (the servers it started too, which would otherwise load the cores
    of every later section; some start theirs in a session of their own, outside the group)."""
    from serving import stop_tree

    proc = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
    )
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_tree([proc.pid])  # the benchmark and every descendant, in any session
        try:  # and what is left of its group (an orphan is no longer its descendant)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, None)


def run_section(
    name: str, argv: list[str], timeout: float, json_file: Path | None = None, cwd=REPO
) -> dict:
    """Run one benchmark; return its record with the JSON it produced, or why it has none."""
    record = {
        "name": name,
        "command": " ".join(str(a) for a in argv),
        "status": "ok",
        "result": None,
    }
    print(f"==> [{name}] {record['command']}", flush=True)
    started = time.perf_counter()
    log_path = OUT_DIR / f"{name}.log"
    try:
        with open(log_path, "w") as log:
            done = run_group(argv, cwd, log, timeout)
        stdout = done.stdout
        (OUT_DIR / f"{name}.stdout").write_text(stdout)
        if json_file is not None and json_file.exists():
            record["result"] = json.loads(json_file.read_text())
        else:
            record["result"] = last_json(stdout)
        if done.returncode != 0:
            record["status"] = "failed"
            tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
            record["error"] = f"exit code {done.returncode}: " + " / ".join(tail)[-400:]
        elif record["result"] is None:
            record["status"] = "failed"
            record["error"] = "it printed no JSON result (its text output is shown instead)"
        if record["result"] is None and stdout.strip():
            record["stdout_tail"] = "\n".join(stdout.strip().splitlines()[-25:])
    except subprocess.TimeoutExpired:
        record["status"] = "failed"
        record["error"] = f"did not finish within {timeout:.0f} s"
    record["seconds"] = round(time.perf_counter() - started, 1)
    print(f"    [{name}] {record['status']} in {record['seconds']} s", flush=True)
    return record


def help_text(argv: list[str]) -> str:
    """The --help text of a benchmark script (to learn how it writes JSON)."""
    try:
        return subprocess.run(
            argv + ["--help"], capture_output=True, text=True, timeout=60, cwd=REPO
        ).stdout
    except (subprocess.TimeoutExpired, OSError):
        return ""


def other_bench(name: str, stem: str, timeout: float, extra: list[str] | None = None) -> dict:
    """A benchmark written by another part (bench/<stem>.py, .mjs, .js or .sh), if it exists."""
    runners = {".py": [PY], ".mjs": ["node"], ".js": ["node"], ".sh": ["bash"]}
    ext = next((e for e in runners if (HERE / f"{stem}{e}").exists()), None)
    if ext is None:
        return {
            "name": name,
            "status": "missing",
            "result": None,
            "error": f"bench/{stem}.* does not exist yet",
        }
    path, runner = HERE / f"{stem}{ext}", runners[ext]
    argv = runner + [str(path)]
    json_file = None
    tail = list(extra or [])
    if ext == ".py":
        text = help_text(argv)
        option = next(
            (o for o in ("--json-out", "--out") if re.search(o + r"(?![-\w])", text)), None
        )
        if option:
            json_file = OUT_DIR / f"{name}.json"
            json_file.unlink(missing_ok=True)
            argv += [option, str(json_file)]
        elif "--json" in text:
            argv += ["--json"]
    return run_section(name, argv + tail, timeout, json_file)


def main() -> int:
    """Run the sections asked for and write results.json and BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers-python", required=True)
    parser.add_argument(
        "--only",
        help="comma-separated sections: " + ",".join(ALL_SECTIONS) + " (connections and tutorial "
        "run only when named here; profile runs with serving)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short pass of every section (2 runs of 2 s per serving cell, each other section "
        "with its short arguments): to check that everything runs, not for the report",
    )
    parser.add_argument(
        "--report", help="where to write the report (default: BENCHMARKS.md for a full run)"
    )
    args = parser.parse_args()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    unknown = sorted((only or set()) - set(ALL_SECTIONS))
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}: use one of {', '.join(ALL_SECTIONS)}")

    def wanted(section: str) -> bool:
        if only is None:
            return section not in OPT_IN
        return section in only

    results = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "load_before": load_now(),
        "quick": args.quick,
        "sections": {},
    }
    started = time.perf_counter()
    if wanted("serving"):
        serving_json = OUT_DIR / "serving.json"
        serving_json.unlink(missing_ok=True)
        argv = [
            PY,
            str(HERE / "serving.py"),
            "--out",
            str(serving_json),
            "--peers-python",
            args.peers_python,
        ]
        argv += ["--skip", SERVING_SKIP]
        if args.quick:
            argv += ["--runs", "2", "--duration", "2"]
        results["sections"]["serving"] = run_section("serving", argv, 2700, serving_json)
    if wanted("profile") or wanted("serving"):
        prof_json = OUT_DIR / "profile.json"
        prof_json.unlink(missing_ok=True)
        py_spy = str(Path(args.peers_python).with_name("py-spy"))
        results["sections"]["profile"] = run_section(
            "profile",
            [PY, str(HERE / "profile_ours.py"), "--py-spy", py_spy, "--json-out", str(prof_json)],
            240,
            prof_json,
        )
    for section, stem, timeout, full_args, quick_args in SECTIONS:
        # engine_http runs with engine (--only engine), as it always has.
        if wanted(section) or (section == "engine_http" and wanted("engine")):
            results["sections"][section] = other_bench(
                section, stem, timeout, quick_args if args.quick else full_args
            )
        if section == "build" and wanted("build"):  # bentoml build of the same project
            bento_json = OUT_DIR / "bentoml_build.json"
            bento_json.unlink(missing_ok=True)
            results["sections"]["bentoml_build"] = run_section(
                "bentoml_build",
                [
                    args.peers_python,
                    str(HERE / "peers" / "bentoml_build.py"),
                    "--json-out",
                    str(bento_json),
                ],
                400,
                bento_json,
            )
    results["load_after"] = load_now()
    results["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["seconds"] = round(time.perf_counter() - started, 1)
    out = OUT_DIR / "results.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"==> results: {out}")

    # Only a full run replaces the committed report and its JSON; a partial or quick one is
    # written under .work/bench/ so it cannot be committed by mistake (and no section of one run
    # is ever merged into another's report).
    full = only is None and not args.quick
    if full:
        kept = HERE / "results" / "latest.json"
        kept.parent.mkdir(exist_ok=True)
        shutil.copy(out, kept)
    report_path = args.report or str(REPO / "BENCHMARKS.md" if full else OUT_DIR / "BENCHMARKS.md")

    sys.path.insert(0, str(HERE))
    import report

    Path(report_path).write_text(report.render(results))
    print(f"==> report: {report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
