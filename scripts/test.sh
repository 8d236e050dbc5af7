#!/usr/bin/env bash
# Runs the test suite in .venv (set it up first with scripts/setup.sh); extra arguments go to pytest:
# `bash scripts/test.sh -m unit` is the fast tier (no model, seconds), no argument runs everything (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_PROGRESS_BARS=1
exec .venv/bin/python -m pytest "$@"
