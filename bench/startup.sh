#!/usr/bin/env bash
# Start-up time and idle memory of the built agent: starts `telekit run` with an
# empty conf.d and no default inputs, polls /v1/ping every 10 ms, reads VmRSS 3 s
# after it answers. Give another checkout's directory to compare builds.
#
#   npm run build && bash bench/startup.sh [repo_dir=.] [runs=3]
set -euo pipefail
dir=$(cd "${1:-.}" && pwd)
runs=${2:-3}
port=19529
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/conf.d"
for _ in $(seq "$runs"); do
  rm -rf "$tmp/data"
  start=$(date +%s%N)
  ENV_HTTP_LISTEN=127.0.0.1:$port ENV_DEFAULT_ENABLED_INPUTS=- node "$dir/bin/telekit.js" run --conf-dir "$tmp/conf.d" --data-dir "$tmp/data" >"$tmp/log" 2>&1 &
  pid=$!
  until curl -s -o /dev/null "127.0.0.1:$port/v1/ping"; do
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/log"; exit 1; }
    sleep 0.01
  done
  ready=$(( ($(date +%s%N) - start) / 1000000 ))
  sleep 3
  rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
  echo "$dir: ready in $ready ms, RSS $rss MB"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
