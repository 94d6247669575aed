#!/usr/bin/env bash
# Prepare what the review tests need, idempotently: the argilla SDK and Playwright in the
# toolkit's venv, and the local Argilla server's own environment in
# ${CURATE_TEST_ARGILLA_VENV:-~/.cache/curate-tests/argilla-venv} (where tests/conftest.py
# points the tests). No server is started here: each test session starts its own (own data
# dir and free port, under pytest's temporary folder) and stops it at the end, so nothing is
# left running and the user's ~/.cache/curate is never used.
set -euo pipefail
cd "$(dirname "$0")/../.."
# the review tests drive the web UI with Playwright on the system's chromium (no browser download)
python -c "import curate.review.server, argilla" 2>/dev/null || python -m pip install -q -e '.[review]'
python -c "import playwright" 2>/dev/null || python -m pip install -q 'playwright>=1.40'
start=$(date +%s)
venv="${CURATE_TEST_ARGILLA_VENV:-$HOME/.cache/curate-tests/argilla-venv}"
python - "$venv" <<'PY'
import sys
from pathlib import Path

from curate.review.server import ensure_venv

ensure_venv(Path(sys.argv[1]), log=print)
PY
echo "argilla: server environment ready in $venv after $(( $(date +%s) - start )) s"
