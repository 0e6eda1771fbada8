#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (lint first).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
echo "==> ruff"
.venv/bin/ruff check .
echo "==> pytest"
exec .venv/bin/python -m pytest "$@"
