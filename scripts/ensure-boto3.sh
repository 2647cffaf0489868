#!/usr/bin/env bash
# Makes sure Debian's python3-boto3 is installed: the serve tests drive `stepbox serve` with boto3 as a
# second real client, through the system's python (/usr/bin/python3), whatever python is first on PATH.
set -euo pipefail
if /usr/bin/python3 -c "import boto3" >/dev/null 2>&1; then
  exit 0
fi
echo "stepbox: no boto3 for /usr/bin/python3 here; installing Debian's python3-boto3 package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq python3-boto3 >/dev/null
/usr/bin/python3 -c "import boto3"
