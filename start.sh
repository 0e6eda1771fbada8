#!/usr/bin/env bash
# Sets everything up (first run: ~10 minutes) and starts the newsqa demo: the web chat on a
# store in ./data that starts with the shipped sample article (QA_SEED_CORPUS=0 to skip it).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
export QA_SEED_CORPUS="${QA_SEED_CORPUS:-1}"
exec .venv/bin/qa serve "$@"
