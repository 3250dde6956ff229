#!/usr/bin/env bash
# bench-quant.sh - the training step with a quantized base against fp32, on
# this machine (issue 14's goal: nf4 at most 1.5x the fp32 step).
#
#   scripts/bench-quant.sh [--rounds N] [--repeat N] [--threads N] [--config PRESET]
#                          [--dtypes "fp32 nf4 int8"] [--case NAME] [--no-recompute]
#
# Runs `lorafit bench --cases CASE --base-dtype D --no-ceiling --json` (default
# case train-padded: batch 8 x 120, the labs' padding) for every dtype in turn,
# ROUNDS times (default 3), so that each round's figures saw the same machine,
# and prints each round's ms/step, each dtype's ratio to fp32 in that round,
# and the median ratio. Where bf16 runs (a CPU with AVX512-BF16 or AMX-BF16
# and oneDNN: `lorafit --version --verbose` says so), bf16 joins the default
# dtypes and the quantized ones get their ratio to bf16 too (issue 14: nf4
# no slower than fp32 where the bf16 path exists, which is also where nf4's
# tiles are bf16); the tiles int8 and nf4 ran in are printed (bench's JSON
# quant_tiles). Each bench run reports the median of --repeat steps
# (default 3) after one warm-up. int8 and nf4 recompute activations in the
# backward pass by default, as `lorafit train` does; --no-recompute turns it
# off for them. LORAFIT_BIN picks the executable (default build/lorafit).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${LORAFIT_BIN:-$root/build/lorafit}
rounds=3
repeat=3
threads=$(nproc)
config=gpt2-small
dtypes="fp32 nf4 int8"
dtypes_given=0
case_name=train-padded
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --dtypes) dtypes=$2; dtypes_given=1; shift 2 ;;
    --case) case_name=$2; shift 2 ;;
    --no-recompute) extra+=(--no-recompute); shift ;;
    *) echo "bench-quant: unknown option '$1' (see the head of $0)" >&2; exit 2 ;;
  esac
done
[[ -x $bin ]] || { echo "bench-quant: no lorafit executable at $bin; build it or set LORAFIT_BIN" >&2; exit 2; }
case " $dtypes " in *" fp32 "*) ;; *) echo "bench-quant: --dtypes must include fp32 (the ratios' base)" >&2; exit 2 ;; esac
if [ "$dtypes_given" -eq 0 ] && "$bin" --version --verbose 2>/dev/null | grep -q -- '--base-dtype bf16 runs on'; then
  dtypes+=" bf16"
fi
# the ratios: every dtype to fp32, and the quantized ones to bf16 when it runs
pairs=()
for d in $dtypes; do
  [ "$d" = fp32 ] || pairs+=("$d/fp32")
done
case " $dtypes " in *" bf16 "*)
  for d in $dtypes; do
    case $d in int8 | nf4) pairs+=("$d/bf16") ;; esac
  done ;;
esac

# json_number KEY: the first number after "KEY": on standard input.
json_number() { grep -o "\"$1\":[[:space:]]*[0-9.eE+-]*" | head -n 1 | sed 's/.*:[[:space:]]*//'; }

echo "bench-quant: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores, $threads threads;" \
  "$config, case $case_name, $rounds rounds of: $dtypes${extra:+ (${extra[*]})}"
declare -A ratios
for r in $(seq "$rounds"); do
  declare -A ms=()
  line="round $r (load $(cut -d' ' -f1 /proc/loadavg)):"
  for d in $dtypes; do
    out=$("$bin" bench --config "$config" --cases "$case_name" --base-dtype "$d" "${extra[@]}" --no-ceiling \
      --json --repeat "$repeat" --warmup 1 --threads "$threads")
    ms[$d]=$(json_number ms_per_step <<<"$out")
    line+=$(printf ' %s %.1f ms' "$d" "${ms[$d]}")
    tiles=$(grep -o '"quant_tiles":[[:space:]]*"[^"]*"' <<<"$out" | sed 's/.*"\([^"]*\)"$/\1/' || true)
    [ -n "$tiles" ] && line+=" ($tiles tiles)"
  done
  for p in "${pairs[@]}"; do
    x=$(awk -v a="${ms[${p%/*}]}" -v b="${ms[${p#*/}]}" 'BEGIN { printf "%.3f", a / b }')
    ratios[$p]+="$x "
    line+=" | $p ${x}x"
  done
  echo "$line"
done
for p in "${pairs[@]}"; do
  med=$(tr ' ' '\n' <<<"${ratios[$p]}" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
  echo "$p median over $rounds rounds: ${med}x (rounds: ${ratios[$p]% })"
done
