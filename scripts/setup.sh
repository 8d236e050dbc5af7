#!/usr/bin/env bash
# Sets up .venv with everything citebot needs, from scratch, on a fresh machine.
# torch goes first, pinned to the CPU wheel: an unpinned torch pulls a CUDA build of several GB.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[test,fast]"
echo "citebot installed in .venv (activate with: source .venv/bin/activate)"
