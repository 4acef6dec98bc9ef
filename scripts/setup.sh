#!/usr/bin/env bash
# Set up everything the product and its tests need, on a fresh machine or an old checkout:
# a virtual environment (.venv) with the package installed editable, the npm packages, the
# built labextension linked into JupyterLab. Steps whose inputs did not change are skipped.
#
#   scripts/setup.sh          the product
#   scripts/setup.sh --test   also the browser tests' npm packages and Debian's chromium,
#                             configurable-http-proxy (npm) and Debian's postgresql
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WITH_TESTS=0
[[ "${1:-}" == "--test" ]] && WITH_TESTS=1

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
stamp_ok() { [[ -f "$1" ]] && [[ "$(cat "$1")" == "$2" ]]; }

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "Python 3.10 or newer is needed as '$PYTHON' (set PYTHON=/path/to/python3)." >&2
  exit 2
fi
command -v node >/dev/null || { echo "Node.js 20 or newer is needed to build the frontend." >&2; exit 2; }

if [[ ! -x .venv/bin/python ]]; then
  say "Creating the virtual environment .venv"
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
mkdir -p .work

# The tests also need the ray extra (Ray Serve, ~500 MB): the Ray engine's tests run in CI.
EXTRAS="test"; [[ $WITH_TESTS == 1 ]] && EXTRAS="test,ray"
py_key="$(cat pyproject.toml | sha256sum | cut -c1-16)-$EXTRAS"
if ! stamp_ok .work/python.stamp "$py_key"; then
  say "Installing JupyterLab (it provides jlpm, the package manager of the frontend)"
  python -m pip install -q --upgrade pip
  python -m pip install -q "jupyterlab>=4.6,<4.7"
fi

js_key="$(cat package.json yarn.lock | sha256sum | cut -c1-16)"
if ! stamp_ok .work/npm.stamp "$js_key" || [[ ! -d node_modules ]]; then
  say "Installing the npm packages (jlpm install)"
  jlpm install --immutable >/dev/null || jlpm install
  echo "$js_key" > .work/npm.stamp
fi

say "Building the frontend"
jlpm build >/dev/null

if ! stamp_ok .work/python.stamp "$py_key"; then
  say "Installing jupyter_hub_api (editable) with its test tools"
  python -m pip install -q -e ".[$EXTRAS]"
  echo "$py_key" > .work/python.stamp
fi
jupyter labextension develop --overwrite . >/dev/null 2>&1

# The platform runs every API's workers in a bubblewrap sandbox (read-only model files and
# environments, a pid namespace that dies with the worker); without it they run unsandboxed.
if ! command -v bwrap >/dev/null; then
  if [[ $(id -u) -eq 0 ]] || command -v sudo >/dev/null; then
    say "Installing Debian's bubblewrap (the workers' sandbox)"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq bubblewrap >/dev/null; } \
      || echo "Could not install bubblewrap: APIs will run without the sandbox (see README)." >&2
  fi
fi

if [[ $WITH_TESTS == 1 ]]; then
  ui_key="$(cat ui-tests/package.json ui-tests/yarn.lock | sha256sum | cut -c1-16)"
  if ! stamp_ok .work/ui.stamp "$ui_key" || [[ ! -d ui-tests/node_modules ]]; then
    say "Installing the browser tests' npm packages"
    (cd ui-tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 jlpm install --immutable >/dev/null \
      || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 jlpm install)
    echo "$ui_key" > .work/ui.stamp
  fi
  # The JupyterHub tests run a real hub, whose proxy is the npm package configurable-http-proxy.
  chp_key="configurable-http-proxy@5.3.0"
  if ! stamp_ok .work/chp.stamp "$chp_key" || [[ ! -x .work/chp/node_modules/.bin/configurable-http-proxy ]]; then
    say "Installing configurable-http-proxy (JupyterHub's proxy, for the JupyterHub tests)"
    npm install --prefix "$ROOT/.work/chp" --no-save --no-audit --no-fund "$chp_key" >/dev/null
    echo "$chp_key" > .work/chp.stamp
  fi
  # The PostgreSQL tests start a throwaway cluster of Debian's postgresql (initdb, pg_ctl).
  if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    say "Installing Debian's postgresql (the PostgreSQL tests start a throwaway server)"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  fi
  if [[ ! -x /usr/bin/chromium ]]; then
    say "Installing Debian's chromium for the browser tests"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
fi
say "Set-up done"
