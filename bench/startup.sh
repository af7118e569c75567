#!/usr/bin/env bash
# Start-up time and idle memory of the built agent, against a floor in the same command.
#
#   npm run build && bash bench/startup.sh [repo_dir=.] [runs=3]
#     INPUTS=...   ENV_DEFAULT_ENABLED_INPUTS of the agent (default: the seed DaemonSet's node
#                  inputs, cpu,disk,diskio,mem,swap,system,hostobject,net,container,statsd,ddtrace;
#                  INPUTS=- for none)
#     IDLE=10      seconds to wait after /v1/ping answers before reading RSS
#     NODE_ARGS=   extra node flags for the agent (e.g. --max-semi-space-size=1)
#     AB=DIR       also starts the agent of another checkout (its bin/telekit.js, built), in the same
#                  rounds: a baseline measured in the same command
#     PORTS=a-b    the range the agents listen in (default 20000-39999: a random port per run)
#
# Each run starts `node bin/telekit.js run` with an empty conf.d, polls /v1/ping every 10 ms
# (ready = exec → first answer), then after IDLE s reads VmRSS (resident now) and VmHWM (the
# kernel's high-water mark since exec) from /proc. The floor, measured the same way in the same
# run: a bare `node` process with an HTTP server answering /v1/ping. All memory in MiB (2^20 B).
# The summary gives per command the medians of ready and RSS and the peak RSS: the highest VmHWM of
# its runs.
set -euo pipefail
dir=$(cd "${1:-.}" && pwd)
runs=${2:-3}
inputs=${INPUTS:-cpu,disk,diskio,mem,swap,system,hostobject,net,container,statsd,ddtrace}
idle=${IDLE:-10}
PORTS=${PORTS:-20000-39999}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/conf.d"
floor='require("http").createServer((q, r) => r.end("{}")).listen(+process.env.PORT, "127.0.0.1")'

measure() { # name cmd...: prints one line
  local name=$1; shift
  local lo=${PORTS%-*} hi=${PORTS#*-}
  local port=$((lo + RANDOM % (hi - lo + 1)))
  rm -rf "$tmp/data"
  local start; start=$(date +%s%N)
  PORT=$port ENV_HTTP_LISTEN=127.0.0.1:$port ENV_DEFAULT_ENABLED_INPUTS=$inputs "$@" >"$tmp/log" 2>&1 &
  local pid=$!
  until curl -s -o /dev/null "127.0.0.1:$port/v1/ping"; do
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/log"; exit 1; }
    sleep 0.01
  done
  local ready=$(( ($(date +%s%N) - start) / 1000000 ))
  sleep "$idle"
  local rss hwm threads
  rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  hwm=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  threads=$(awk '/Threads/ {print $2}' "/proc/$pid/status")
  echo "$name: ready in $ready ms, RSS after ${idle} s $rss MiB, peak RSS (VmHWM) $hwm MiB, $threads threads"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); node $(node -v); agent inputs: $inputs; node flags: ${NODE_ARGS:-none}"
for _ in $(seq "$runs"); do
  # shellcheck disable=SC2086
  measure "$dir agent" node ${NODE_ARGS:-} "$dir/bin/telekit.js" run --conf-dir "$tmp/conf.d" --data-dir "$tmp/data"
  # shellcheck disable=SC2086
  [ -n "${AB:-}" ] && measure "$AB agent (baseline)" node ${NODE_ARGS:-} "$AB/bin/telekit.js" run --conf-dir "$tmp/conf.d" --data-dir "$tmp/data"
  measure "floor: bare node http server" node -e "$floor"
done 2>&1 | tee "$tmp/out"
# medians per command
node -e '
const rows = {};
for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) {
  const m = /^(.*): ready in (\d+) ms, RSS after \d+ s ([\d.]+) MiB, peak RSS \(VmHWM\) ([\d.]+) MiB/.exec(l);
  if (m) (rows[m[1]] ??= []).push([+m[2], +m[3], +m[4]]);
}
const med = (xs) => xs.sort((a, b) => a - b)[(xs.length - 1) >> 1];
for (const [k, v] of Object.entries(rows)) console.log(`median of ${v.length}, ${k}: ready in ${med(v.map((x) => x[0]))} ms, RSS after idle ${med(v.map((x) => x[1]))} MiB; peak RSS (highest VmHWM of the runs) ${Math.max(...v.map((x) => x[2])).toFixed(1)} MiB`);
' "$tmp/out"
