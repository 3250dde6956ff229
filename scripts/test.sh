#!/usr/bin/env bash
# test.sh - everything CI checks, from a fresh clone:
#   1. dependencies (scripts/setup.sh), a gcc Release build with warnings as errors, and its tests,
#      the engine's again under every OpenBLAS kernel set the CPU runs (scripts/test-kernel-sets.sh);
#   2. a clang build with AddressSanitizer + UBSan, warnings as errors, and the same tests.
# Nothing outside the checkout is needed: the SMS data the tests use is in data/sms_spam.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --deps-only

echo "== gcc Release build (-Werror) and tests"
cmake -S . -B build-ci -DCMAKE_BUILD_TYPE=Release -DLORAFIT_WERROR=ON >/dev/null
cmake --build build-ci -j "$(nproc)"
ctest --test-dir build-ci --output-on-failure -j 2
bash scripts/test-kernel-sets.sh build-ci

echo "== clang ASan+UBSan build (-Werror) and tests"
CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLORAFIT_SANITIZE=ON \
  -DLORAFIT_WERROR=ON >/dev/null
cmake --build build-asan -j "$(nproc)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j 2
