"""Benchmark of `hub build` on the scikit-learn template, in one run.

Measures, as a user runs them (the real `hub` CLI as a subprocess, wall-clock time):

1. first build            — model stored, Python environment created;
2. no-change rebuild      — nothing to copy, nothing to install;
3. code-only rebuild      — main.py edited: only that file is stored, environment reused;
4. requirements change    — a requirement added: a new environment is made;

and the bytes of model files written to the blob store on each. For comparison ("peer"), the
same project is also prepared the naive way a rebuild without caching does it: a fresh
``python -m venv`` + ``pip install -r requirements.txt`` and a full copy of model/ (the hosted
guide's `hub build` rebuilds a Docker image and re-uploads the model, quoted at 3–4 minutes
with its deploy; there is no Docker engine here to time that).

Usage::

    python bench/build_bench.py [--model-mb 200] [--json-out results.json] [--no-peer]

The data directory is a temporary HUB_HOME (removed at the end); the installers' own package
caches (uv's and pip's) are the user's defaults, as on a real machine.
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
from pathlib import Path

HUB = str(Path(sys.executable).with_name("hub"))


def run_hub(args: list[str], cwd: Path, env: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - argv list
        [HUB, *args, "--json"], cwd=cwd, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0:
        sys.exit(
            f"hub {' '.join(args)} failed ({proc.returncode}): {proc.stdout[-800:]} {proc.stderr[-800:]}"
        )
    result = next(e for e in reversed(events) if e["event"] == "result")
    result["steps"] = {
        e["name"]: e["seconds"] for e in events if e["event"] == "step" and e["status"] == "done"
    }
    return seconds, result


def make_project(workdir: Path, env: dict, model_mb: int) -> Path:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    x, y = load_iris(return_X_y=True)
    model_file = workdir / "model.joblib"
    joblib.dump(RandomForestClassifier(n_estimators=50, random_state=0).fit(x, y), model_file)
    proc = subprocess.run(  # noqa: S603
        [
            HUB,
            "init",
            "iris",
            "--template",
            "sklearn",
            "--model-file",
            str(model_file),
            "--dir",
            str(workdir),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    project = workdir / "iris"
    if model_mb:
        # Real models are large; a big extra file shows what the stat cache saves.
        with open(project / "model" / "embeddings.bin", "wb") as fh:
            for _ in range(model_mb):
                fh.write(os.urandom(1024 * 1024))
    return project


def peer_naive_rebuild(project: Path, workdir: Path) -> float:
    """A rebuild without any cache of ours: new venv, pip install, full model copy."""
    target = workdir / "naive"
    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(target / "env")], check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [
            str(target / "env" / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(project / "src" / "requirements.txt"),
        ],
        check=True,
    )
    shutil.copytree(project / "model", target / "model")
    shutil.copytree(project / "src", target / "src")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model-mb", type=int, default=200, help="size of an extra model file (MB)"
    )
    parser.add_argument("--json-out", type=Path, help="also write the results to this file")
    parser.add_argument("--no-peer", action="store_true", help="skip the naive venv + pip rebuild")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="hub-build-bench-"))
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["HUB_HOME"] = str(workdir / "hub-home")
    rows = []
    try:
        project = make_project(workdir, env, args.model_mb)

        def measure(label: str) -> None:
            seconds, result = run_hub(["build"], project, env)
            rows.append(
                {
                    "scenario": label,
                    "seconds": round(seconds, 3),
                    "model_bytes": result["model_bytes"],
                    "model_bytes_written": result["model_bytes_written"],
                    "files_hashed": result["files_hashed"],
                    "env_reused": result["env_reused"],
                    "code_changed": result["code_changed"],
                    "steps": result["steps"],
                }
            )

        measure("first build")
        measure("no-change rebuild")
        main_py = project / "src" / "main.py"
        main_py.write_text(main_py.read_text() + "\n# tweak\n")
        measure("code-only rebuild")
        reqs = project / "src" / "requirements.txt"
        reqs.write_text(reqs.read_text() + "threadpoolctl\n")
        measure("requirements-change rebuild")
        if not args.no_peer:
            rows.append(
                {
                    "scenario": "peer: naive venv + pip + copy",
                    "seconds": round(peer_naive_rebuild(project, workdir), 3),
                    "model_bytes": rows[0]["model_bytes"],
                    "model_bytes_written": rows[0]["model_bytes"],
                    "files_hashed": None,
                    "env_reused": False,
                    "code_changed": True,
                }
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    report = {
        "benchmark": "hub build, scikit-learn template",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "model_mb_extra": args.model_mb,
        "results": rows,
    }
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))
    print(
        f"\n{'scenario':32} {'seconds':>8} {'model MB':>9} {'MB written':>11} {'hashed':>7} {'env':>8}"
    )
    for row in rows:
        print(
            f"{row['scenario']:32} {row['seconds']:8.2f} {row['model_bytes'] / 2**20:9.1f} "
            f"{row['model_bytes_written'] / 2**20:11.1f} {row['files_hashed'] if row['files_hashed'] is not None else '-':>7} "
            f"{'reused' if row['env_reused'] else 'new':>8}"
        )


if __name__ == "__main__":
    main()
