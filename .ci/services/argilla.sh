#!/usr/bin/env bash
# Start the local Argilla server the review tests use (curate review serve), idempotently.
# It listens on 127.0.0.1:6900 with its data in ~/.cache/curate/argilla-server; the tests find
# it through that dir's server.json (curate.review.server.status). Exports nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
# the review tests drive the web UI with Playwright on the system's chromium (no browser download)
python -c "import curate.review.server, argilla" 2>/dev/null || python -m pip install -q -e '.[review]'
python -c "import playwright" 2>/dev/null || python -m pip install -q 'playwright>=1.40'
start=$(date +%s)
curate review serve --port 6900 --json > /dev/null
echo "argilla: local server healthy on http://127.0.0.1:6900 after $(( $(date +%s) - start )) s"
