#!/usr/bin/env bash
# Run the product: set up what is missing, start the embedded platform, then JupyterLab with
# the extension on 127.0.0.1. Extra arguments go to `jupyter lab` (e.g. --port 9999).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
# shellcheck disable=SC1091
source "$ROOT/.venv/bin/activate"
cd "$ROOT"

if hub platform --help >/dev/null 2>&1; then
  hub platform start
fi

ROOT_FLAG=()
[[ $(id -u) -eq 0 ]] && ROOT_FLAG=(--allow-root)
exec jupyter lab --ip 127.0.0.1 --no-browser "${ROOT_FLAG[@]}" "$@"
