"""`bentoml build` of the same scikit-learn project that bench/build_bench.py builds with `hub build`.

The project: the shared handlers (bench/peers/handlers.py) as a BentoML service, the iris model
trained on the spot, and an extra model file of ``--model-mb`` MB (build_bench.py's default size),
with scikit-learn, joblib and numpy as requirements. Scenarios, in a private BENTOML_HOME:
first build, no-change rebuild, code-only rebuild (the service file edited).

`bentoml build` packs the files into a new bento each time and writes the requirements; it does not
create the Python environment (`bentoml containerize` does, in a Docker image, and needs a Docker
engine that this machine does not have), so its figures are packaging only.

    python bench/peers/bentoml_build.py [--model-mb 200] [--json-out FILE]   (in the peers' venv)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENTOFILE = """service: "bentoml_service:BenchService"
include:
  - "*.py"
  - "model/*"
python:
  packages:
    - scikit-learn
    - joblib
    - numpy
"""


def build(project: Path, env: dict) -> dict:
    """Run `bentoml build` once; return its wall-clock seconds and exit code."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    row = {"seconds": round(seconds, 3), "exit_code": done.returncode}
    if done.returncode != 0:
        row["error"] = (done.stderr or done.stdout)[-400:]
    return row


def main() -> None:
    """Make the project, time the builds, print (and optionally write) the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-mb", type=int, default=200, help="size of the extra model file")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hub-bench-bentoml-build-"))
    try:
        project = work / "project"
        (project / "model").mkdir(parents=True)
        for name in ("handlers.py", "bentoml_service.py"):
            shutil.copy(HERE / name, project / name)
        subprocess.run(
            [sys.executable, str(HERE / "train_model.py"), str(project / "model")],
            check=True,
            capture_output=True,
        )
        with open(project / "model" / "extra.bin", "wb") as extra:
            for _ in range(args.model_mb):
                extra.write(os.urandom(2**20))
        (project / "bentofile.yaml").write_text(BENTOFILE)
        env = {
            **os.environ,
            "BENTOML_HOME": str(work / "bentoml-home"),
            "BENTOML_DO_NOT_TRACK": "True",
            "BENCH_MODEL_DIR": str(project / "model"),
        }
        rows = []
        for scenario in ("first build", "no-change rebuild", "code-only rebuild"):
            if scenario == "code-only rebuild":
                service = project / "bentoml_service.py"
                service.write_text(service.read_text() + "\n# tweak\n")
            rows.append({"scenario": scenario, **build(project, env)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    import bentoml

    report = {
        "benchmark": "bentoml build, the same scikit-learn project",
        "bentoml": bentoml.__version__,
        "model_mb_extra": args.model_mb,
        "results": rows,
    }
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
