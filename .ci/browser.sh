#!/usr/bin/env bash
# Browser tests' system pieces: Debian's chromium and Playwright for Python (driving that
# executable; never `playwright install`, which downloads its own browser). axe-core is
# vendored in tests/vendor (from the npm registry). Run as root on a Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
PY=.venv/bin/python; [ -x "$PY" ] || PY=python3
"$PY" -m pip install -q "playwright>=1.40"
/usr/bin/chromium --version 2>/dev/null | grep -i chromium || { echo "chromium not runnable" >&2; exit 1; }
