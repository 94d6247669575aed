#!/usr/bin/env bash
# The README's test command, verbatim (tests/test_docs.py checks they agree).
set -euo pipefail
pip install -e '.[dev]' && pytest -n 2 -q
