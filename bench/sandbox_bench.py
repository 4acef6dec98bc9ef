"""What tenant isolation adds to a worker's start: the sandbox's command run to its end.

Each variant starts ``<python> -c pass`` as a worker would (the sandbox's command line, its
scratch folders prepared and removed), timed from preparing the scratch to the exit:

- ``bare``: no sandbox;
- ``before``: the sandbox as it was before tenants (``engines/sandbox.py`` at ``--before``,
  default the commit before tenant isolation landed), one shared uid, ``src/`` bound in place;
- ``owner``: today's sandbox for a spec without a tenant (the single-user embedded platform):
  HOME, /home, /root hidden, a private copy of ``src/``;
- ``tenant``: today's with a tenant and plan limits: on a root platform its own uid
  (``setpriv``), ``prlimit``, its own /etc/passwd, the scratch chowned.

Rounds run the variants in rotating order; the report gives each one's median and p90 and the
ratios against ``before`` measured in the same run, with the load average.

    python bench/sandbox_bench.py [--rounds 30] [--src-files 20] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jupyter_hub_api.platform.engines.limits import WorkerLimits  # noqa: E402
from jupyter_hub_api.platform.engines.sandbox import Sandbox, Scratch, bwrap_usable  # noqa: E402

BEFORE = "0252066~1"


def old_sandbox_module(rev: str) -> types.ModuleType:
    """``engines/sandbox.py`` as it was at ``rev``, loaded under another name."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:jupyter_hub_api/platform/engines/sandbox.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    source = source.replace("from ...processes import", "from jupyter_hub_api.processes import")
    module = types.ModuleType("sandbox_before")
    exec(compile(source, "sandbox_before.py", "exec"), module.__dict__)  # noqa: S102 - our own file
    return module


def layout(root: Path, files: int) -> SimpleNamespace:
    """A data directory with one version (``files`` source files, one model file)."""
    home = root / "home"
    vdir = home / "platform" / "versions" / "v1"
    (vdir / "src").mkdir(parents=True)
    (vdir / "model").mkdir()
    for i in range(files):
        (vdir / "src" / f"module_{i}.py").write_text("x = 1\n" * 50)
    (vdir / "model" / "weights.bin").write_bytes(b"\0" * 4096)
    return SimpleNamespace(home=home, src=vdir / "src", model=vdir / "model")


def run_once(variant: str, sandboxes: dict, v: SimpleNamespace) -> float:
    python = Path(sys.executable)
    argv = [str(python), "-c", "pass"]
    start = time.perf_counter()
    sandbox = sandboxes[variant]
    scratch = Scratch(v.home / "platform" / "workers")
    if variant in ("owner", "tenant"):
        spec = SimpleNamespace(
            src_dir=v.src,
            model_dir=v.model,
            python=python,
            tenant=1 if variant == "tenant" else None,
            limits=WorkerLimits(processes=256, open_files=1024, cpu_seconds=600)
            if variant == "tenant"
            else None,
        )
        sandbox.prepare(scratch, spec)
    cmd = sandbox.command(argv, v.src, v.model, python, scratch) if sandbox else argv
    env = {**os.environ, **(sandbox.environment(scratch) if sandbox else {})}
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, env=env, cwd=v.src)  # noqa: S603
    scratch.remove()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--src-files", type=int, default=20)
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--json-out")
    args = parser.parse_args()
    if bwrap_usable() is None:
        sys.exit("bubblewrap is not usable here: nothing to compare (apt-get install bubblewrap)")
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        v = layout(Path(tmp), args.src_files)
        hidden = [v.home, v.home / "platform"]
        old = old_sandbox_module(args.before)
        sandboxes = {
            "bare": None,
            "before": old.Sandbox(None, hidden=hidden),
            "owner": Sandbox(None, hidden=hidden),
            "tenant": Sandbox(None, hidden=hidden),
        }
        variants = list(sandboxes)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for name in variants:  # warm the page cache once
            run_once(name, sandboxes, v)
        load_before = os.getloadavg()[0]
        for i in range(args.rounds):
            order = variants[i % len(variants) :] + variants[: i % len(variants)]
            for name in order:
                times[name].append(run_once(name, sandboxes, v))
        load_after = os.getloadavg()[0]
    base = statistics.median(times["before"])
    report = {
        "rounds": args.rounds,
        "src_files": args.src_files,
        "root": os.geteuid() == 0,
        "tenant_uid": sandboxes["tenant"].tenant_uids,
        "load": [round(load_before, 2), round(load_after, 2)],
        "variants": {
            name: {
                "median_ms": round(statistics.median(ts) * 1000, 2),
                "p90_ms": round(sorted(ts)[int(len(ts) * 0.9) - 1] * 1000, 2),
                "ratio_to_before": round(statistics.median(ts) / base, 3),
            }
            for name, ts in times.items()
        },
    }
    print(json.dumps({"sandbox": report}, indent=1))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"sandbox": report}, indent=1))


if __name__ == "__main__":
    main()
