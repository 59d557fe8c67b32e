#!/usr/bin/env bash
# The server benchmark (docs/server.md, "Benchmarks"): requests per second
# and latency (p50, p99) of tollgate-http-floor (tollgate-server's HTTP layer
# answering a fixed response, no tollgate) beside tollgate-server on the gate,
# each on one core (taskset: every thread of the server, the journal's
# included, shares core 0), loaded by wrk on the other core over loopback
# with 64 keep-alive connections. The server's account is funded ($1,000,000
# under an override lifting the spend cap and the model's limits), and the
# load alternates POST /v1/text_to_image (a create: auth, validation,
# pricing, the gate's admission and hold on the journal) and GET
# /v1/tasks/{id} of the task just created. Server runs: tasks that keep
# running (create + read only) with the journal's durability `none` (the CPU
# cost: nothing waits for the disk) and `group_commit` (each create waits for
# an fdatasync; the gate holds the account's lock meanwhile, so one account's
# creates go one sync at a time), and tasks that finish 100 ms after they
# start (each task's capture on the journal too). Needs the release build.
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

start() {  # start NAME COMMAND...: runs it on core 0, sets url_NAME and pid_NAME
  local name=$1
  shift
  taskset -c 0 "$@" >"${dir}/${name}.out" 2>"${dir}/${name}.err" &
  pids+=($!)
  printf -v "pid_${name}" '%s' "$!"
  for _ in $(seq 200); do
    if grep -q '^listening on ' "${dir}/${name}.out"; then
      printf -v "url_${name}" '%s' "$(sed -n 's/^listening on //p' "${dir}/${name}.out")"
      return 0
    fi
    sleep 0.05
  done
  echo "${name} did not start: $(cat "${dir}/${name}.err")" >&2
  return 1
}

admin_key=admin_bench_key_0123456789abcdef
config() {  # config NAME GENERATION_MS DURABILITY
  mkdir -p "${dir}/$1"
  cat >"${dir}/$1/config.json" <<JSON
{"admin_key": "${admin_key}",
 "api_keys": [{"key": "key_bench_0123456789abcdef01", "account": "bench"}],
 "journal": "bench.journal", "durability": "$3",
 "http": {"io_threads": 1, "log_requests": false, "max_connections": 1024}, "workers": 32,
 "simulation": {"generation_ms": {"default": $2}}}
JSON
}
fund() {  # fund URL: lifts the limits of the bench account and buys $1,000,000 of credits
  local h=(-sf -H "Authorization: Bearer ${admin_key}" -H 'Content-Type: application/json')
  curl "${h[@]}" -X PUT -d '{"models": {"gemini_2.5_flash": {"maxConcurrentGenerations": null, "maxDailyGenerations": null}}, "maxMonthlySpendUsd": "100000000.00"}' \
    "$1/admin/accounts/bench/override" >/dev/null
  curl "${h[@]}" -d '{"usd": "1000000.00", "key": "bench-funds"}' "$1/admin/accounts/bench/purchase" >/dev/null
}

cat >"${dir}/flow.lua" <<'LUA'
-- POST a create, then GET the task it made, on and on (one Lua state per wrk thread).
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer key_bench_0123456789abcdef01",
                 ["X-Runway-Version"] = "2024-11-06"}
local create = '{"model":"gemini_2.5_flash","promptText":"a lighthouse at dusk","ratio":"1344:768"}'
local ids = {}
request = function()
  local id = table.remove(ids)
  if id then return wrk.format("GET", "/v1/tasks/" .. id, headers, nil) end
  return wrk.format("POST", "/v1/text_to_image", headers, create)
end
response = function(status, _, body)
  if status == 200 and not body:find('"status"', 1, true) then
    local id = body:match('"id":"([^"]+)"')
    if id then table.insert(ids, id) end
  end
end
done = function(summary)
  io.write(string.format("non-2xx: %d\n", summary.errors.status))
end
LUA

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system time of a process, in clock ticks

run() {  # run LABEL URL PID [wrk args...]: also the server's CPU time per request
  local label=$1 url=$2 pid=$3
  shift 3
  local before after
  before=$(cpu_ticks "${pid}")
  taskset -c 1 wrk -t1 -c64 -d"${seconds}s" --latency "$@" "${url}" >"${dir}/wrk.txt"
  after=$(cpu_ticks "${pid}")
  local rps p50 p99 bad n per_s
  rps=$(awk '/^Requests\/sec:/ {print $2}' "${dir}/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "${dir}/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "${dir}/wrk.txt")
  bad=$(awk '/^non-2xx:/ {print $2}' "${dir}/wrk.txt")
  n=$(awk '/requests in/ {print $1}' "${dir}/wrk.txt")
  # Requests per second of the server's own CPU time: what one core would serve if the
  # server had it alone (the machine may be shared; wall-clock req/s then moves with it).
  per_s=$(awk -v n="${n}" -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", (t > 0) ? n * hz / t : 0}')
  printf '%-62s %9s req/s  p50 %8s  p99 %8s  %7s req per CPU-second  non-2xx %s\n' "${label}" "${rps}" "${p50}" "${p99}" "${per_s}" "${bad:-0}"
}

echo "wrk -t1 -c64 -d${seconds}s over loopback; each server on one core ($(nproc) cores here; load average $(cut -d' ' -f1 /proc/loadavg))"
start floor "${build}/tollgate-http-floor" --listen 127.0.0.1:0
run "floor: fixed response (no tollgate), same request mix" "${url_floor}/" "${pid_floor}" -s "${dir}/flow.lua"
kill "${pid_floor}"

server() {  # server LABEL GENERATION_MS DURABILITY
  local name="s$((++servers))"
  config "${name}" "$2" "$3"
  start "${name}" "${build}/tollgate-server" --config "${dir}/${name}/config.json" --listen 127.0.0.1:0
  local url_var="url_${name}" pid_var="pid_${name}"
  fund "${!url_var}"
  [ -z "${health:-}" ] && health=1 && run "server: GET /health" "${!url_var}/health" "${!pid_var}"
  run "server: $1" "${!url_var}/" "${!pid_var}" -s "${dir}/flow.lua"
  kill "${!pid_var}"
}
servers=0
server "create + GET task, tasks keep running, durability none" 3600000 none
server "create + GET task, tasks finish after 100 ms, durability none" 100 none
server "create + GET task, tasks keep running, group_commit" 3600000 group_commit
