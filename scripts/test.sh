#!/usr/bin/env bash
# Run every test: set up what is missing, then lint (ruff, eslint, prettier), jest, pytest and
# the browser tests (Playwright + Galata in Debian's chromium). Stops at the first failing stage.
# Screenshots of the browser tests land in ui-tests/screenshots/.
#
#   scripts/test.sh               everything
#   scripts/test.sh lint|jest|pytest|ui   one stage (after set-up)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" --test
# shellcheck disable=SC1091
source "$ROOT/.venv/bin/activate"
cd "$ROOT"
tracked() { git -C "$ROOT" ls-files -z -- "$@"; }
say() { printf '\n\033[1;34m==>\033[0m %s\n' "$*"; }
STAGES=("${@:-lint jest pytest ui}")
STAGES=(${STAGES[*]})

# Everything a test writes goes under .work/test-home, never the user's own folders.
TEST_HOME="$ROOT/.work/test-home"
rm -rf "$TEST_HOME" && mkdir -p "$TEST_HOME/tmp"
export HUB_HOME="$TEST_HOME/hub"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

for stage in "${STAGES[@]}"; do
  case "$stage" in
    lint)
      # Only the files git tracks: whatever else lies in the tree (a project, notes, results)
      # is not the product's and must not fail its tests.
      say "Lint: ruff, eslint, prettier (tracked files)"
      tracked '*.py' '*.ipynb' | xargs -0 ruff check --force-exclude
      tracked '*.py' '*.ipynb' | xargs -0 ruff format --check --force-exclude
      tracked '*.ts' '*.tsx' '*.js' '*.mjs' | xargs -0 jlpm exec eslint --no-warn-ignored
      tracked '*.ts' '*.tsx' '*.js' '*.jsx' '*.css' '*.json' \
        | xargs -0 jlpm exec prettier --list-different --ignore-unknown
      ;;
    jest)
      say "Frontend unit tests (jest)"
      jlpm test
      ;;
    pytest)
      say "Python tests (pytest)"
      python -m pytest -p no:cacheprovider
      ;;
    ui)
      say "Browser tests (Playwright + Galata in Debian's chromium)"
      mkdir -p ui-tests/screenshots
      (
        cd ui-tests
        export HOME="$TEST_HOME" TMPDIR="$TEST_HOME/tmp"
        export JUPYTER_CONFIG_DIR="$TEST_HOME/jupyter-config"
        export JUPYTER_DATA_DIR="$TEST_HOME/jupyter-data"
        export JUPYTER_RUNTIME_DIR="$TEST_HOME/jupyter-runtime"
        export YARN_CACHE_FOLDER="$TEST_HOME/yarn-cache"
        jlpm playwright test
      )
      ;;
    *)
      echo "Unknown stage '$stage': use lint, jest, pytest or ui." >&2
      exit 2
      ;;
  esac
done
say "All tests passed"
