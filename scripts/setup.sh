#!/usr/bin/env bash
# setup.sh - install what lorafit needs to build, then build it into build/.
#
# On Debian/Ubuntu it installs the packages with apt-get (as root, or through
# sudo). Elsewhere it says what to install. Safe to run again: it installs
# nothing that is already there and rebuilds only what changed.
#   bash scripts/setup.sh             # dependencies + Release build in build/
#   bash scripts/setup.sh --deps-only # dependencies only
#   BUILD_DIR=out bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
deps_only=0
case "${1:-}" in
  --deps-only) deps_only=1 ;;
  "") ;;
  *) echo "setup: unknown option '$1' (usage: scripts/setup.sh [--deps-only])" >&2; exit 2 ;;
esac

# Build tools and the three libraries, all from the distribution. clang and
# its runtimes are for the sanitizer/fuzzer builds (scripts/test.sh, README);
# Open MPI for `mpirun -n N lorafit train` and its tests, oneDNN for --base-dtype bf16 (both optional
# at build time).
PACKAGES=(build-essential cmake pkg-config curl unzip libopenblas-dev libcjson-dev libutf8proc-dev
          clang libclang-rt-14-dev libomp-14-dev libopenmpi-dev openmpi-bin libdnnl-dev)

have_all() {
  command -v cmake >/dev/null && command -v cc >/dev/null && command -v pkg-config >/dev/null &&
    pkg-config --exists openblas libcjson libutf8proc && command -v clang >/dev/null &&
    command -v curl >/dev/null && command -v unzip >/dev/null && command -v mpirun >/dev/null &&
    pkg-config --exists ompi-c && [ -e /usr/include/oneapi/dnnl/dnnl.h ] &&
    [ -e /usr/lib/llvm-14/lib/libomp.so ] || return 1
}

if ! have_all; then
  if command -v apt-get >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing ${PACKAGES[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
  else
    cat >&2 <<'MSG'
setup: this is not a Debian/Ubuntu system. Install by hand:
  a C11 compiler with OpenMP (gcc), CMake >= 3.18, pkg-config,
  OpenBLAS (openblas), cJSON (libcjson), utf8proc (libutf8proc) with their headers;
  for the sanitizer and fuzz builds also clang with its compiler-rt and OpenMP runtimes.
Then run: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j
MSG
    exit 1
  fi
fi

[ "$deps_only" -eq 1 ] && exit 0
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DLORAFIT_WERROR=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
echo "setup: built $BUILD_DIR/lorafit"
