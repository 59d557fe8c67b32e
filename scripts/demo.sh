#!/usr/bin/env bash
# Builds the examples in release mode and runs the demo: tollgate-estimate
# pricing a few sample jobs and a monthly plan against the built-in Runway
# catalog. Installs any missing Debian package first (run as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_packages "${TOLLGATE_BUILD_PACKAGES[@]}"

cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_BUILD_TESTS=OFF >/dev/null
cmake --build build/demo -j "$(nproc)" --target tollgate-estimate
est=build/demo/examples/estimate/tollgate-estimate

run() { echo; echo "\$ tollgate-estimate $*"; "${est}" "$@"; }
run gen4_turbo --seconds 10
run gen4_turbo --seconds 10 --json
run veo3.1 --seconds 8 --audio
run gen4_image --resolution 1080p --outputs 4
run eleven_multilingual_v2 --text "Welcome to the future of video."
run --plan data/sample-plan.json
