#!/usr/bin/env bash
# Builds and runs the whole test suite, as CI does: a debug build under
# AddressSanitizer + UndefinedBehaviorSanitizer, a release build (with the
# consumer projects and the benchmarks built), the concurrent tests under
# ThreadSanitizer, and each fuzz target for a bounded time.
# Installs any missing Debian package first (run as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_packages "${TOLLGATE_BUILD_PACKAGES[@]}" "${TOLLGATE_TEST_PACKAGES[@]}"
ensure_node

jobs=$(nproc)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

# Servers the tests reach through the environment, on free loopback ports,
# stopped on exit (also when a test fails).
server_pids=()
stop_servers() { for pid in "${server_pids[@]}"; do kill "${pid}" 2>/dev/null || true; done; }
trap stop_servers EXIT
start_redis() {  # sets TOLLGATE_REDIS_URL
  local dir port pid
  dir=$(mktemp -d)
  for port in $(seq $((20000 + RANDOM % 20000)) 65000); do
    (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null && continue  # taken
    redis-server --port "${port}" --bind 127.0.0.1 --save '' --appendonly no --dir "${dir}" \
      >"${dir}/redis.log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do
      if [ "$(redis-cli -p "${port}" ping 2>/dev/null)" = PONG ]; then
        server_pids+=("${pid}")
        export TOLLGATE_REDIS_URL="redis://127.0.0.1:${port}"
        echo "=== redis-server ${TOLLGATE_REDIS_URL} (log: ${dir}/redis.log)"
        return 0
      fi
      kill -0 "${pid}" 2>/dev/null || break
      sleep 0.1
    done
    kill "${pid}" 2>/dev/null || true
  done
  echo "tollgate: could not start redis-server" >&2
  return 1
}
start_redis

# tollgate-server against the provider's official client, @runwayml/sdk
# (tests/server/: pinned by package-lock.json, installed by npm ci from the
# npm registry), with node's test runner; each test file starts its own
# server on a free loopback port. Run on the sanitizer build and the
# release build of the server.
server_client_tests() {  # $1: preset
  echo "=== ${1}: tollgate-server with the official client"
  TOLLGATE_SERVER="${PWD}/build/${1}/examples/server/tollgate-server" node --test tests/server/
}

for preset in debug-asan release tsan; do
  echo "=== ${preset}: configure and build"
  cmake --preset "${preset}" >/dev/null
  cmake --build --preset "${preset}" -j "${jobs}"
  echo "=== ${preset}: test"
  ctest --preset "${preset}"
  if [ "${preset}" = release ]; then
    (cd tests/server && npm ci --prefer-offline --no-audit --no-fund)
    server_client_tests debug-asan
    server_client_tests release
  fi
done

# Fuzz targets: tests/fuzz/*.fuzz.cpp, built with clang's libFuzzer, each run
# for TOLLGATE_FUZZ_SECONDS (30 by default) on its seeds
# (tests/fuzz/NAME.seeds/) and the corpus it grew before (build/fuzz/NAME.corpus/).
# Each must run at least 5,000 inputs a second (docs/tools.md has the figures);
# the summary prints each target's final exec/s and flags a slower one (not a
# failure: the machine may be busy). A crash, sanitizer report, leak or timeout
# fails the run; its input is written to build/fuzz/NAME-crash-... (never the
# repository root) and the last lines of build/fuzz/NAME.log are shown.
shopt -s nullglob
fuzz_targets=(tests/fuzz/*.fuzz.cpp)
if ((${#fuzz_targets[@]})); then
  fuzz_seconds=${TOLLGATE_FUZZ_SECONDS:-30}
  fuzz_min_execs=5000
  fuzz_summary=()
  fuzz_failed=()
  mkdir -p build/fuzz
  for src in "${fuzz_targets[@]}"; do
    name=$(basename "${src}" .fuzz.cpp)
    echo "=== fuzz: ${name} for ${fuzz_seconds} s"
    clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined \
      -fsanitize-coverage-ignorelist=tests/fuzz/coverage_ignore.txt \
      -Iinclude "${src}" -o "build/fuzz/${name}" -lfmt
    corpus="build/fuzz/${name}.corpus"
    mkdir -p "${corpus}"
    seeds="tests/fuzz/${name}.seeds"
    [ -d "${seeds}" ] || seeds=""
    log="build/fuzz/${name}.log"
    status=0
    # A 32 MB quarantine (256 by default) still holds thousands of runs' frees
    # for use-after-free checks, and recycles memory before it costs page faults.
    ASAN_OPTIONS="${ASAN_OPTIONS}:quarantine_size_mb=32" \
      "build/fuzz/${name}" -max_total_time="${fuzz_seconds}" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="build/fuzz/${name}-" "${corpus}" ${seeds} \
      >"${log}" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "${log}" | tail -n 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "${log}" | tail -n 1)
    line=$(printf '%-16s %8s exec/s %10s runs' "${name}" "${execs:-?}" "${runs:-?}")
    if [ "${status}" != 0 ]; then
      tail -n 40 "${log}"
      line+="  FAILED (exit ${status}; the input is in build/fuzz/${name}-*: run build/fuzz/${name} on it)"
      fuzz_failed+=("${name}")
    else
      grep -E '^#[0-9]+[[:space:]]+DONE' "${log}" || true
      if [ -z "${execs}" ] || [ "${execs}" -lt "${fuzz_min_execs}" ]; then
        line+="  below ${fuzz_min_execs} exec/s"
      fi
    fi
    fuzz_summary+=("${line}")
  done
  echo "=== fuzz summary (${fuzz_seconds} s each; load: $(cut -d' ' -f1-3 /proc/loadavg))"
  printf '  %s\n' "${fuzz_summary[@]}"
  if ((${#fuzz_failed[@]})); then
    echo "tollgate: fuzz targets found a defect: ${fuzz_failed[*]}" >&2
    exit 1
  fi
fi
echo "tollgate: all test builds passed"
