#!/usr/bin/env bash
# Makes sure a Docker engine answers: use a running one; else start an installed dockerd; else, on
# Debian as root, install docker.io and start it; else say what is missing. Quiet when all is well.
set -euo pipefail

engine_answers() { docker info >/dev/null 2>&1; }

wait_for_engine() {
  for _ in $(seq 1 120); do
    engine_answers && return 0
    sleep 0.5
  done
  echo "stepbox: dockerd started but did not answer within 60 s; see $1" >&2
  exit 1
}

if command -v docker >/dev/null 2>&1 && engine_answers; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ -f /etc/debian_version ] && [ "$(id -u)" = "0" ]; then
    echo "stepbox: no Docker engine here; installing Debian's docker.io" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  else
    cat >&2 <<'MSG'
stepbox: no Docker engine answers and none is installed.
  Install Docker Engine (https://docs.docker.com/engine/install/) and start it,
  or point DOCKER_HOST at a running engine, then run this again.
MSG
    exit 1
  fi
fi

if [ "$(id -u)" != "0" ]; then
  echo "stepbox: dockerd is installed but not running, and starting it needs root: sudo dockerd &" >&2
  exit 1
fi
log=/var/log/stepbox-dockerd.log
touch "$log" 2>/dev/null || log="$(mktemp -t stepbox-dockerd.XXXXXX.log)"
echo "stepbox: starting dockerd (log: $log)" >&2
nohup dockerd >"$log" 2>&1 &
wait_for_engine "$log"
