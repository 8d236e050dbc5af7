#!/usr/bin/env bash
# Lint and type-check in .venv (set it up first with scripts/setup.sh); the rules live in pyproject.toml.
# ruff on the whole repo; mypy normal on the chat side (bot/; the engine's own findings are reported by
# the next line, hence --follow-imports=silent) and strict on the engine (index/).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/mypy --follow-imports=silent bot/
# TEMPORARY (issue 16): 16a/16b make index/ pass strict mypy in parallel; the lead removes this `|| echo` at merge.
.venv/bin/mypy index/ || echo "mypy: see issue 16 (lead removes this ||)"
