# cli_version.sh - `lorafit --version --verbose` says what lorafit runs on
# (issue 13), checked against what Linux says of the CPU in /proc/cpuinfo:
# the model name and vector features, the OpenBLAS kernels and who chose
# them. With OPENBLAS_CORETYPE unset the kernels are at the best level the
# CPU runs; a value the user set is kept and said to be the user's; and a
# library that picked old kernels (played by a preloaded stub) is switched
# to the best set, in a second start of lorafit.
. "$(dirname "$0")/lib.sh"

# The version alone: one line, as before.
run --version
if [ "$rc" -eq 0 ] && [[ "$out" =~ ^lorafit\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; then pass; else fail "--version: $out"; fi

# line PREFIX: the line of $out that starts with PREFIX.
line() { printf '%s\n' "$out" | grep -m1 "^$1" || true; }

# run_env VAR=VALUE... -- ARGS: lorafit with OPENBLAS_CORETYPE, lorafit's
# marks and the wait settings unset, then the variables given; sets $out, $err, $rc.
run_env() {
  local vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  env -u OPENBLAS_CORETYPE -u LORAFIT_CORETYPE_SET -u LORAFIT_CORETYPE_WAS -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "${vars[@]}" \
    "$LORAFIT" "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  out=$(cat "$TMP/out")
  err=$(cat "$TMP/err")
}

run_env -- --version --verbose
[ "$rc" -eq 0 ] && pass || fail "--version --verbose: exit $rc: $err"
for want in "CPU: " "vector features: " "OpenBLAS kernels: " "OpenBLAS config: " "threads: " "oneDNN: " "MPI: "; do
  [ -n "$(line "$want")" ] && pass || fail "--version --verbose lacks '$want'"$'\n'"$out"
done

# OpenMP's idle threads: a short spin that lorafit sets, unless the user
# set a policy or a spin count, which are kept as they are.
threads_line=$(line "threads: ")
[[ "$threads_line" == *"GOMP_SPINCOUNT 10000"* ]] && pass || fail "nothing set: $threads_line"
run_env OMP_WAIT_POLICY=passive -- --version --verbose
threads_line=$(line "threads: ")
[[ "$threads_line" == *"OMP_WAIT_POLICY passive" ]] && pass || fail "OMP_WAIT_POLICY=passive: $threads_line"
run_env GOMP_SPINCOUNT=500 -- --version --verbose
threads_line=$(line "threads: ")
[[ "$threads_line" == *"(GOMP_SPINCOUNT 500)" ]] && pass || fail "GOMP_SPINCOUNT=500: $threads_line"
run_env -- --version --verbose

# The MPI line names the library's own version, which Open MPI's mpirun states too.
mpi_line=$(line "MPI: ")
case $mpi_line in
  "MPI: Open MPI v"*)
    lib_version=$(printf '%s\n' "$mpi_line" | sed -E 's/^MPI: Open MPI v([0-9.]+).*/\1/')
    if command -v mpirun >/dev/null && mpirun --version 2>/dev/null | grep -q 'Open MPI'; then
      run_version=$(mpirun --version 2>/dev/null | sed -nE '1s/.*\(Open MPI\) ([0-9.]+).*/\1/p')
      [ "$lib_version" = "$run_version" ] && pass ||
        fail "MPI line says Open MPI $lib_version, mpirun --version says $run_version"
    else
      echo "no Open MPI mpirun on PATH: the MPI line's version is not compared"
    fi ;;
  *) pass ;; # not built in, another MPI, or a library that does not load: the line is there
esac

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*: //')
model=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*: //')
if [ -z "$flags" ]; then
  echo "not an x86 Linux: the CPU checks are skipped"
  finish
  exit
fi
has() { [[ " $flags " == *" $1 "* ]]; }

case "$(line "CPU: ")" in "CPU: $model ("*) pass ;; *) fail "CPU line: $(line "CPU: "), /proc/cpuinfo: $model" ;; esac
features=$(line "vector features: ")
for f in "avx2 AVX2" "fma FMA" "sse4_2 SSE4.2" "avx512f AVX-512F" "avx512bw AVX-512BW" "avx512_bf16 AVX512-BF16" \
  "amx_bf16 AMX-BF16"; do
  set -- $f
  if has "$1"; then
    [[ "$features" == *" $2"* ]] && pass || fail "/proc/cpuinfo has $1, the features line lacks $2: $features"
  else
    [[ "$features" == *" $2 "* || "$features" == *" $2" ]] && fail "no $1 in /proc/cpuinfo, yet: $features" || pass
  fi
done

# The best kernel set this CPU runs, decided from Linux's flags.
best=""
if has avx512_bf16 && has avx512f && has avx512bw && has avx512dq && has avx512vl; then best="Cooperlake"
elif has avx512f && has avx512bw && has avx512dq && has avx512vl; then best="SkylakeX"
elif has avx2 && has fma; then best="Haswell"
elif has avx; then best="Sandybridge"
fi
if [[ "$(line "OpenBLAS config: ")" != *DYNAMIC_ARCH* ]] || [ -z "$best" ]; then
  echo "OpenBLAS built for one core, or a CPU without AVX: no kernel choice to check"
  finish
  exit
fi
[[ "$(line "OpenBLAS kernels: ")" == *"the best set correct on this CPU: $best "* ]] && pass ||
  fail "best set: want $best: $(line "OpenBLAS kernels: ")"

# Automatic: the kernels running are at the best level (Zen's are Haswell's).
core=$(line "OpenBLAS kernels: " | sed 's/^OpenBLAS kernels: \([^,]*\),.*/\1/')
case "$best:$core" in
  Haswell:Haswell | Haswell:Zen | "$best:$best") pass ;;
  *) fail "OPENBLAS_CORETYPE unset: running $core, the best for this CPU is $best"$'\n'"$out" ;;
esac

# A value the user set is kept, and said to be the user's.
run_env OPENBLAS_CORETYPE=Sandybridge -- --version --verbose
case "$(line "OpenBLAS kernels: ")" in
  "OpenBLAS kernels: Sandybridge, set by the user (OPENBLAS_CORETYPE=Sandybridge);"*) pass ;;
  *) fail "OPENBLAS_CORETYPE=Sandybridge: $(line "OpenBLAS kernels: ")" ;;
esac
[[ "$(line "OpenBLAS config: ")" == *" Sandybridge "* ]] && pass || fail "config: $(line "OpenBLAS config: ")"

# A library that picked Prescott by itself: lorafit sets the best set and
# starts again; the second start reports the choice, and the first's pick.
if [ -r "${LORAFIT_FAKE_CORENAME:-}" ]; then
  fake=(LD_PRELOAD="$LORAFIT_FAKE_CORENAME" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
  run_env "${fake[@]}" -- --version --verbose
  case "$(line "OpenBLAS kernels: ")" in
    "OpenBLAS kernels: $best, chosen by lorafit (OpenBLAS picked Prescott by itself);"*) pass ;;
    *) fail "a library on Prescott: $(line "OpenBLAS kernels: ")"$'\n'"stderr: $err" ;;
  esac
  # the spin count is set in the same start
  [[ "$(line "threads: ")" == *"GOMP_SPINCOUNT 10000"* ]] && pass || fail "spin count: $(line "threads: ")"
  # a command runs normally after starting again
  run_env "${fake[@]}" -- count-params
  [ "$rc" -eq 0 ] && pass || fail "count-params after the switch: exit $rc: $err"
fi

finish
