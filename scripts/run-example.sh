#!/usr/bin/env bash
# Runs the example pipeline (preprocess → train → evaluate), each step in its own container.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-docker.sh
bash scripts/install-deps.sh
exec npx tsx examples/ml-pipeline.ts "$@"
