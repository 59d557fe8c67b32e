#!/usr/bin/env bash
# Builds the examples in release mode and runs the demo: tollgate-simulate
# plays a small studio's four weeks through the gate (purchases, jobs held,
# queued and settled, autobilling, promotions from tier 1 to tier 3) and draws
# its chart; then tollgate-estimate prices a job and a monthly plan against
# the built-in Runway catalog. Installs any missing Debian package first (run
# as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_packages "${TOLLGATE_BUILD_PACKAGES[@]}"

cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_BUILD_TESTS=OFF >/dev/null
cmake --build build/demo -j "$(nproc)" --target tollgate-simulate tollgate-estimate
sim=build/demo/examples/simulate/tollgate-simulate
est=build/demo/examples/estimate/tollgate-estimate
chart=build/demo/scenario-studio.svg

echo
echo "\$ tollgate-simulate data/scenario-studio.json --svg ${chart}"
"${sim}" data/scenario-studio.json --svg "${chart}"
echo "(the chart of balance, jobs a day and tier: ${chart}; the agency campaign: ${sim} data/scenario-agency.json)"

run() { echo; echo "\$ tollgate-estimate $*"; "${est}" "$@"; }
run gen4_turbo --seconds 10
run --plan data/sample-plan.json
