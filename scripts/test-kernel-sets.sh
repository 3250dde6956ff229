#!/usr/bin/env bash
# test-kernel-sets.sh [BUILD_DIR] - the engine's tests again under every
# OpenBLAS kernel set this CPU runs of Haswell, SkylakeX and Cooperlake
# (decided from /proc/cpuinfo's flags), then once with the choice automatic
# (OPENBLAS_CORETYPE unset: lorafit picks the set itself, the test programs
# run on OpenBLAS's own pick). The GEMMs differ between sets in their
# rounding, never in their meaning: the tolerances hold on each (issue 13).
# scripts/test.sh runs it after the Release build's tests; about 10 s a set.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tests='^(test_engine_fixture|test_gradcheck|test_engine_determinism|test_trainer|cli_train)$'
unset_all=(env -u OPENBLAS_CORETYPE -u LORAFIT_CORETYPE_SET -u LORAFIT_CORETYPE_WAS)

flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*://') "
has() { for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
sets=()
if has avx2 fma; then sets+=(Haswell); fi
if has avx2 fma avx512f avx512bw avx512dq avx512vl; then sets+=(SkylakeX); fi
if has avx2 fma avx512f avx512bw avx512dq avx512vl avx512_bf16; then sets+=(Cooperlake); fi

# core_of [SET]: the kernels lorafit runs on when asked for SET, or by itself.
core_of() {
  "${unset_all[@]}" ${1:+OPENBLAS_CORETYPE="$1"} "$build/lorafit" --version --verbose |
    sed -n 's/^OpenBLAS kernels: \([^,]*\),.*/\1/p'
}

if ! "$build/lorafit" --version --verbose | grep -q '^OpenBLAS config: .*DYNAMIC_ARCH'; then
  echo "== OpenBLAS is built for one core (no DYNAMIC_ARCH): no kernel sets to choose from"
  sets=()
fi
for set in "${sets[@]}"; do
  core=$(core_of "$set")
  echo "== engine tests on OpenBLAS's $set kernels"
  if [ "$core" != "$set" ]; then
    echo "OPENBLAS_CORETYPE=$set runs OpenBLAS's $core kernels instead" >&2
    exit 1
  fi
  "${unset_all[@]}" OPENBLAS_CORETYPE="$set" ctest --test-dir "$build" -R "$tests" --output-on-failure -j 2
done

echo "== engine tests with the kernel set chosen automatically (lorafit runs on $(core_of))"
"${unset_all[@]}" ctest --test-dir "$build" -R "$tests" --output-on-failure -j 2
