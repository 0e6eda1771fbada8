#!/usr/bin/env bash
# Sets everything up (first run: ~10 minutes) and starts newsqa on the shipped corpus.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
if [ -f app.py ] && .venv/bin/python -c 'import gradio' 2>/dev/null; then
  exec .venv/bin/python app.py "$@"
fi
exec .venv/bin/qa search "$@"
