# Sourced by the other scripts: installs the Debian 12 packages tollgate needs
# when any is missing. Usage: ensure_packages PKG...
ensure_packages() {
  local missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]})); then
    echo "tollgate: installing Debian packages: ${missing[*]}"
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# What building the library, its examples and its tests needs (hiredis for
# the optional tollgate::redis target).
TOLLGATE_BUILD_PACKAGES=(cmake make g++ libboost-dev libfmt-dev libutfcpp-dev
  nlohmann-json3-dev libcli11-dev libhiredis-dev)
# What the test suite adds: Catch2, benchmarks (and their SQLite baseline),
# clang with libFuzzer for the fuzz targets, a Redis server (and redis-cli).
TOLLGATE_TEST_PACKAGES=(catch2 libbenchmark-dev libsqlite3-dev clang libclang-rt-14-dev
  redis-server redis-tools)

# Node.js and npm for the official client's tests (tests/server/, node's
# test runner). Debian 12's nodejs (18) and npm (9) run them; a machine that
# already has Node.js 18 or later with npm (NodeSource's, say) keeps it:
# Debian's npm package would conflict with it.
ensure_node() {
  local major=0
  if command -v node >/dev/null 2>&1; then
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  fi
  if [ "${major}" -lt 18 ] || ! command -v npm >/dev/null 2>&1; then
    ensure_packages nodejs npm
  fi
}
