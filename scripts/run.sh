#!/usr/bin/env bash
# Run the product: set up what is missing, start the embedded platform, then JupyterLab with
# the extension on 127.0.0.1, opened on your workspace: $HUB_WORKSPACE, by default
# ~/hub-workspace (created with a quickstart notebook the first time; never this repository).
# Extra arguments go to `jupyter lab` (e.g. --port 9999). When JupyterLab stops, the platform
# stops too (and your APIs with it); HUB_KEEP_PLATFORM=1 keeps it serving.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
# shellcheck disable=SC1091
source "$ROOT/.venv/bin/activate"

WORKSPACE="${HUB_WORKSPACE:-$HOME/hub-workspace}"
mkdir -p "$WORKSPACE"
WORKSPACE="$(cd "$WORKSPACE" && pwd)"
case "$WORKSPACE/" in
  "$ROOT"/*)
    echo "HUB_WORKSPACE ($WORKSPACE) is inside the product's own folder $ROOT: choose a folder of yours." >&2
    exit 2
    ;;
esac
hub quickstart "$WORKSPACE" >/dev/null
cd "$WORKSPACE"

hub platform start

stop_platform() {
  if [[ "${HUB_KEEP_PLATFORM:-0}" != 1 ]]; then
    hub platform stop || true
  fi
}
trap stop_platform EXIT

ROOT_FLAG=()
[[ $(id -u) -eq 0 ]] && ROOT_FLAG=(--allow-root)
echo "Workspace: $WORKSPACE"
jupyter lab --ip 127.0.0.1 --no-browser --ServerApp.root_dir="$WORKSPACE" "${ROOT_FLAG[@]}" "$@"
