#!/usr/bin/env bash
# Lint and type-check in .venv (set it up first with scripts/setup.sh); the rules live in pyproject.toml.
# ruff on the whole repo; mypy normal on the chat side (bot/; the engine's own findings are reported by
# the next line, hence --follow-imports=silent) and strict on the engine (index/).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/mypy --follow-imports=silent bot/
.venv/bin/mypy index/
