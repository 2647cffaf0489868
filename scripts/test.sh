#!/usr/bin/env bash
# Runs the whole test suite against a real Docker engine and ends with one line: "N passed, M failed".
# Extra arguments go to vitest (for example a test file).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-docker.sh
bash scripts/ensure-chromium.sh
bash scripts/ensure-boto3.sh
bash scripts/ensure-registry.sh
bash scripts/install-deps.sh
# Lint and format first: a layer rule broken or a file left unformatted fails the run before the slow part.
npx biome check .
npx tsc -p tsconfig.json --noEmit
mkdir -p test-output
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=test-output/vitest.json "$@" || status=$?
if [ -f test-output/vitest.json ]; then
  node scripts/summarize-tests.mjs test-output/vitest.json
else
  echo "0 passed, 1 failed"
  status=1
fi
exit "$status"
