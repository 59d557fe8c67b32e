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
