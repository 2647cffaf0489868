#!/usr/bin/env bash
# Makes sure a Docker engine answers: use a running one; else start an installed dockerd; else, on
# Debian as root, install Debian's docker.io and start it; else say what is missing and exit 1.
# Silent when the engine already answers; safe to run any number of times, also concurrently.
set -euo pipefail

engine_answers() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

wait_for_engine() {
  local log=$1
  for _ in $(seq 1 120); do
    engine_answers && return 0
    sleep 0.5
  done
  echo "stepbox: dockerd did not answer within 60 s; the end of $log:" >&2
  tail -n 20 "$log" >&2 || true
  exit 1
}

start_dockerd() {
  if [ "$(id -u)" != "0" ]; then
    echo "stepbox: dockerd is installed but no engine answers, and starting one needs root:" >&2
    echo "  sudo systemctl start docker   (or: sudo dockerd &), or set DOCKER_HOST to an engine that runs" >&2
    exit 1
  fi
  local log=/var/log/stepbox-dockerd.log
  { : >>"$log"; } 2>/dev/null || log="$(mktemp -t stepbox-dockerd.XXXXXX.log)"
  # A dockerd that is still starting (another run of this script) owns the pid file: wait for it
  # instead of starting a second one, which would refuse to run.
  if [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    wait_for_engine "$log"
    return
  fi
  echo "stepbox: starting dockerd (log: $log)" >&2
  # nohup: the engine must outlive this script and the shell that ran it.
  nohup dockerd >>"$log" 2>&1 </dev/null &
  wait_for_engine "$log"
}

if engine_answers; then
  exit 0
fi

if [ -n "${DOCKER_HOST:-}" ]; then
  echo "stepbox: the Docker engine at DOCKER_HOST=$DOCKER_HOST does not answer; start it, or unset DOCKER_HOST to use a local one" >&2
  exit 1
fi

if command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; then
  start_dockerd
  exit 0
fi

if [ -f /etc/debian_version ] && [ "$(id -u)" = "0" ]; then
  echo "stepbox: no Docker engine here; installing Debian's docker.io" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  start_dockerd
  exit 0
fi

cat >&2 <<'MSG'
stepbox: no Docker engine answers and none is installed.
  Debian/Ubuntu: sudo apt-get install docker.io, or run this script as root to do it for you;
  elsewhere: install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop.
  Or point DOCKER_HOST at an engine that runs. Then run this again.
MSG
exit 1
