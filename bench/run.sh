#!/usr/bin/env bash
# The one benchmark command: set up the product (scripts/setup.sh), install wrk and the peers
# (LitServe, BentoML, bare uvicorn + Starlette) into their own venv under .work/bench-peers,
# run every benchmark, then write .work/bench/results.json and BENCHMARKS.md.
#
#   bench/run.sh                 every section in one go, one report (about 75 min on 2 cores; serving ~23 of them)
#   bench/run.sh --quick         a short pass of every section (serving: 2 runs of 2 s per cell): checks, not figures
#   bench/run.sh --only serving  some sections (serving, profile, build, engine, gateway, logstream, frontend,
#                                connections, control, ray, gateway_ab, batch, fork, scale, database, sandbox,
#                                journey; tutorial only when named): written to .work/bench/, never to BENCHMARKS.md
#
# BENCH_BEFORE_REV=<git rev> also measures that revision's platform in the control section.
# BENCH_DURATION (seconds per wrk run, default 10) and BENCH_RUNS (default 3) tune the serving runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

if [[ "${BENCH_SKIP_SETUP:-0}" != "1" ]]; then
  "$ROOT/scripts/setup.sh"
fi
PY="$ROOT/.venv/bin/python"
if ! "$PY" -c 'import ray.serve' 2>/dev/null; then
  say "Installing the ray extra (Ray Serve, for bench/ray_bench.py)"
  "$PY" -m pip install -q -e "$ROOT[ray]"
fi

if ! command -v wrk >/dev/null; then
  say "Installing wrk (Debian package), the load generator"
  if [[ $(id -u) -ne 0 ]]; then
    echo "wrk is missing and this is not root: run 'sudo apt-get install -y wrk' first." >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
fi

PEERS="$ROOT/.work/bench-peers"
REQS="$ROOT/bench/peers/requirements-peers.txt"
key="$(sha256sum "$REQS" | cut -c1-16)"
if [[ ! -x "$PEERS/venv/bin/python" ]] || [[ "$(cat "$PEERS/stamp" 2>/dev/null)" != "$key" ]]; then
  say "Installing the peers into $PEERS/venv (uv, pinned in bench/peers/requirements-peers.txt)"
  mkdir -p "$PEERS"
  "$PY" -m uv venv -q --allow-existing --python "$("$PY" -c 'import sys; print(sys._base_executable)')" "$PEERS/venv"
  "$PY" -m uv pip sync -q --python "$PEERS/venv/bin/python" "$REQS"
  echo "$key" > "$PEERS/stamp"
fi

exec "$PY" "$ROOT/bench/run.py" --peers-python "$PEERS/venv/bin/python" "$@"
