# cli_bench.sh - `lorafit bench --quick` runs on a tiny model and prints every
# figure it promises (text and JSON); bad options exit 2. No timing is
# checked: speed goals are met in the benchmark itself, not in tests.
. "$(dirname "$0")/lib.sh"

run bench --quick --threads 1
if [ "$rc" -ne 0 ]; then
  fail "bench --quick: exit $rc, stderr: $err"
else
  pass
  for want in "ms/step" "tokens/s" "GFLOP/step" "GFLOP/s" "ceiling" "train-padded" "train-last" \
    "infer-padded" "infer-last" "train-lm " "train-lm-all" "LM, answers counted" "sgemm 256 x 256 x 256" "peak RSS" "load average" "GOMP_SPINCOUNT"; do
    case "$out" in
      *"$want"*) pass ;;
      *) fail "bench --quick: stdout lacks '$want'"$'\n'"$out" ;;
    esac
  done
fi

# The header says what the run is on (issue 13), and where the ceiling came from.
for want in "CPU: " "vector features: " "OpenBLAS kernels: " "OpenBLAS config: " "oneDNN: " \
  "ceiling kernels: OpenBLAS "; do
  case "$out" in
    *"$want"*) pass ;;
    *) fail "bench --quick: stdout lacks '$want'"$'\n'"$out" ;;
  esac
done

# Slow kernels chosen by the user: the ceiling comes from the CPU's best set,
# in a second process, so the run shows as a low fraction of it.
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { [[ "$flags " == *" $1 "* ]]; }
best=""
if has avx512_bf16 && has avx512f && has avx512bw && has avx512dq && has avx512vl; then best="Cooperlake"
elif has avx512f && has avx512bw && has avx512dq && has avx512vl; then best="SkylakeX"
elif has avx2 && has fma; then best="Haswell"
fi
run --version --verbose
if [ -n "$best" ] && [[ "$out" == *DYNAMIC_ARCH* ]]; then
  OPENBLAS_CORETYPE=Nehalem run bench --quick --threads 1 --cases infer-padded --json
  case "$out" in
    *"\"openblas_core\":	\"Nehalem\""*"\"kernels_chosen_by\":	\"user\""*"\"ceiling_kernels\":	\"$best\""*) pass ;;
    *) fail "OPENBLAS_CORETYPE=Nehalem: the ceiling should come from $best: $out $err" ;;
  esac
  OPENBLAS_CORETYPE=Nehalem run bench --quick --threads 1 --cases infer-padded
  case "$out" in
    *"ceiling kernels: OpenBLAS $best, the best set for this CPU, in a second process (this run: Nehalem)"*) pass ;;
    *) fail "OPENBLAS_CORETYPE=Nehalem: $out $err" ;;
  esac
fi

# --time-gemms, the second process's side: the GEMMs back, in order, timed.
printf 'N T 64 192 64 3\nN N 16 16 16 1\n' >"$TMP/gemms"
"$LORAFIT" bench --time-gemms --repeat 1 --threads 1 <"$TMP/gemms" >"$TMP/timed" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && awk 'NR == 1 { ok = $1 == "kernels" && NF == 2 }
    NR == 2 { ok = ok && $1 $2 $3 $4 $5 $6 == "NT64192643" && $7 > 0 }
    NR == 3 { ok = ok && $1 $2 $3 $4 $5 $6 == "NN1616161" && $7 > 0 }
    END { exit !(ok && NR == 3) }' "$TMP/timed"; then pass; else fail "--time-gemms: exit $rc: $(cat "$TMP/timed" "$TMP/err")"; fi
printf 'N T 64 192 64 3\nN X 1 1 1 1\n' >"$TMP/gemms"
"$LORAFIT" bench --time-gemms <"$TMP/gemms" >/dev/null 2>"$TMP/err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "standard input:2: not a GEMM" "$TMP/err" && pass || fail "--time-gemms bad line: exit $rc: $(cat "$TMP/err")"

# JSON: one object with the cases asked for and their figures.
expect_contains '"name":	"train-padded"' bench --quick --threads 1 --json --cases train-padded,infer-last
for key in '"ms_per_step":' '"tokens_per_s":' '"gflop_per_step":' '"gflops":' '"ceiling_gflops":' \
  '"fraction_of_ceiling":' '"peak_rss_mb":' '"weights_mb":' '"sgemm_square_gflops":' '"lengths":' '"cpu":' \
  '"openblas_core":' '"kernels_chosen_by":' '"ceiling_kernels":'; do
  case "$out" in
    *"$key"*) pass ;;
    *) fail "bench --json lacks $key" ;;
  esac
done
case "$out" in
  *'"train-last"'*) fail "bench --cases train-padded,infer-last also ran train-last" ;;
  *) pass ;;
esac

# An LM case tells torch its prompt lengths.
expect_contains '"prompt_lengths":' bench --quick --threads 1 --json --cases train-lm

# --shapes lists the GEMMs with what they are.
expect_contains "bwd dX fc_proj" bench --quick --threads 1 --cases train-padded --shapes

# --data: real texts, encoded, in batches of --batch.
printf 'Label,Text\n' >"$TMP/tiny.csv"
for i in 1 2 3 4 5 6 7 8; do printf 'ham,see you at %d tonight\nspam,WIN a prize now call %d\n' "$i" "$i" >>"$TMP/tiny.csv"; done
expect_contains "last-token" bench --quick --threads 1 --cases train-last --data "$TMP/tiny.csv"

# --base-dtype: the block matrices held as train holds them, recomputation by
# the dtype unless told. Their size from the formats' layouts (engine/quant.h)
# for --quick's 2 blocks of width 64, whose matrices hold n = 12288, 4096,
# 16384 and 16384 weights: fp32 4n bytes; int8 n + 4 * ceil(n / 32); nf4
# n / 2 codes + n / 64 absmax codes + 4 * ceil(n / 64 / 256).
bench_base() { # DTYPE RECOMPUTE MB [OPTION]
  run bench --quick --threads 1 --json --cases train-padded --base-dtype "$1" ${4:+"$4"}
  if [ "$rc" -eq 0 ] && [[ "$out" == *"\"base_dtype\":	\"$1\""* && "$out" == *"\"recompute\":	$2,"* ]] &&
    awk -v want="$3" '/"block_weights_mb":/ { gsub(/[^0-9.e+-]/, "", $2); ok = ($2 - want) ^ 2 < 1e-14 }
      END { exit !ok }' <<<"$out"; then pass; else fail "bench --base-dtype $1 ${4:-}: exit $rc: $out $err"; fi
}
mb() { awk -v n=$((12288 + 4096 + 2 * 16384)) "BEGIN { printf \"%.12g\", 2 * ($1) / 1048576 }"; }
bench_base fp32 false "$(mb '4 * n')"
bench_base int8 true "$(mb 'n + 4 * n / 32')"
bench_base nf4 true "$(mb 'n / 2 + n / 64 + 4 * 4')"
bench_base nf4 false "$(mb 'n / 2 + n / 64 + 4 * 4')" --no-recompute
bench_base fp32 true "$(mb '4 * n')" --recompute
expect_contains "base: block matrices in nf4" bench --quick --threads 1 --cases infer-last --base-dtype nf4

# Usage errors.
expect_fail 2 "unknown option '--bogus'" bench --bogus
expect_fail 2 "unknown case 'train'" bench --quick --cases train
expect_fail 2 "--repeat" bench --quick --repeat 0
expect_fail 2 "not both" bench --config gpt2-small --model /nonexistent
expect_fail 2 "unexpected argument" bench --quick extra
expect_fail 2 "--quick" bench --quick --config gpt2-small
expect_fail 2 "" bench --quick --data "$TMP/missing.csv"
expect_fail 2 "--base-dtype" bench --quick --base-dtype fp16

finish
