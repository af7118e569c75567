#!/usr/bin/env bash
# prom input: Debian's prometheus-node-exporter is the real scrape target of
# test/e2e/prom.test.ts. Installs it if missing and starts it on 127.0.0.1:19100
# (the test uses it there, or starts its own copy when it is not running).
# Idempotent and quick: nothing is done when the binary exists and the port answers.
set -euo pipefail

BIN=/usr/bin/prometheus-node-exporter
ADDR=127.0.0.1:19100

if [ ! -x "$BIN" ]; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends prometheus-node-exporter >/dev/null
fi
test -x "$BIN" || { echo "prom.sh: $BIN missing after install" >&2; exit 1; }

if ! (exec 3<>/dev/tcp/127.0.0.1/19100) 2>/dev/null; then
  setsid nohup "$BIN" --web.listen-address="$ADDR" >/tmp/prometheus-node-exporter.log 2>&1 < /dev/null &
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/19100) 2>/dev/null && break
    sleep 0.1
  done
fi
echo "prometheus-node-exporter listening on $ADDR"
