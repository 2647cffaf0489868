#!/usr/bin/env bash
# Makes sure Debian's docker-registry (distribution) is installed: the image push tests run a real
# registry on 127.0.0.1 from test/support/registry.ts, with a config of their own; no service is started.
set -euo pipefail
if dpkg -s docker-registry >/dev/null 2>&1 && [ -x /usr/bin/docker-registry ]; then
  exit 0
fi
echo "stepbox: no docker-registry here; installing Debian's docker-registry package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq docker-registry >/dev/null
/usr/bin/docker-registry --version >/dev/null
