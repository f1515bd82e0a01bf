#!/usr/bin/env bash
# The test command of README.md: set up, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for extra in .ci/postgres.sh .ci/browser.sh; do
  # optional system pieces (PostgreSQL server, Chromium); their tests skip only if these fail
  [ -f "$extra" ] && { bash "$extra" || echo "warning: $extra failed"; }
done
.venv/bin/ruff check .   # lint (config in pyproject.toml)
.venv/bin/python -m pytest -q "$@"
