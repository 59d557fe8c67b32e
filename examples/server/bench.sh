#!/usr/bin/env bash
# The HTTP floor benchmark (docs/server.md, "Benchmarks"): requests per
# second and latency (p50, p99) of tollgate-http-floor (tollgate-server's
# HTTP layer answering a fixed response, no tollgate) beside tollgate-server
# itself, each on one core (taskset), loaded by wrk on the other core over
# loopback with 64 keep-alive connections. Needs the release build.
#   examples/server/bench.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/deps.sh
ensure_packages wrk
seconds=${1:-10}
build=build/release/examples/server
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "${dir}"; }
trap cleanup EXIT

start() {  # start NAME COMMAND...: runs it on core 0, sets url_NAME
  local name=$1
  shift
  taskset -c 0 "$@" >"${dir}/${name}.out" 2>"${dir}/${name}.err" &
  pids+=($!)
  for _ in $(seq 100); do
    if grep -q '^listening on ' "${dir}/${name}.out"; then
      printf -v "url_${name}" '%s' "$(sed -n 's/^listening on //p' "${dir}/${name}.out")"
      return 0
    fi
    sleep 0.05
  done
  echo "${name} did not start: $(cat "${dir}/${name}.err")" >&2
  return 1
}

cat >"${dir}/config.json" <<JSON
{"admin_key": "admin_bench_key_0123456789abcdef",
 "api_keys": [{"key": "key_bench_0123456789abcdef01", "account": "bench"}],
 "journal": "bench.journal", "durability": "group_commit",
 "http": {"io_threads": 1, "log_requests": false, "max_connections": 1024}, "workers": 4}
JSON
cat >"${dir}/create.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"gemini_2.5_flash","promptText":"a lighthouse at dusk","ratio":"1344:768"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer key_bench_0123456789abcdef01"
wrk.headers["X-Runway-Version"] = "2024-11-06"
LUA

start floor "${build}/tollgate-http-floor" --listen 127.0.0.1:0
start server "${build}/tollgate-server" --config "${dir}/config.json" --listen 127.0.0.1:0

run() {  # run LABEL URL [wrk args...]
  local label=$1 url=$2
  shift 2
  taskset -c 1 wrk -t1 -c64 -d"${seconds}s" --latency "$@" "${url}" >"${dir}/wrk.txt"
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "${dir}/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "${dir}/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "${dir}/wrk.txt")
  printf '%-52s %10s req/s   p50 %8s   p99 %8s\n' "${label}" "${rps}" "${p50}" "${p99}"
}

echo "wrk -t1 -c64 -d${seconds}s over loopback; each server on one core ($(nproc) cores here)"
run "floor: fixed response (no tollgate)" "${url_floor}/"
run "server: GET /health" "${url_server}/health"
run "server: POST /v1/text_to_image (auth, validate, price)" "${url_server}/v1/text_to_image" -s "${dir}/create.lua"
