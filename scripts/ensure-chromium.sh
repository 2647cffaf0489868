#!/usr/bin/env bash
# Makes sure a headless Chromium is installed: the report test opens `stepbox report`'s HTML in it.
# Debian's chromium package comes from apt, the only registry besides npm that these machines reach.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
echo "stepbox: no chromium here; installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
