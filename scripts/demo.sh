#!/usr/bin/env bash
# Sets up citebot (if needed), indexes the sample articles in examples/ and starts the bot:
# the Discord/Slack adapters whose tokens are set, or the local shell when none is.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/citebot ] || bash scripts/setup.sh
export HF_HUB_OFFLINE=1
INDEX="${CITEBOT_INDEX_DIR:-./citebot-index}"
.venv/bin/citebot ingest --index "$INDEX" examples/ || true
exec .venv/bin/citebot run --index "$INDEX"
