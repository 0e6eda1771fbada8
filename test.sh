#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (lint first), slow tests included: what CI
# runs. For the fast subset (no generator model, server, browser or kill):
#   .venv/bin/python -m pytest -m "not slow"
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
# headless Chromium for the browser tests, from Debian (Playwright never downloads one)
if ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing Debian's chromium for the browser tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null ||
    echo "    could not install chromium: the browser test will be skipped"
fi
echo "==> ruff"
.venv/bin/ruff check .
echo "==> pytest"
exec .venv/bin/python -m pytest "$@"
