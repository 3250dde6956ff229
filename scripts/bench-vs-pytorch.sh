#!/usr/bin/env bash
# bench-vs-pytorch.sh - lorafit against the PyTorch reference, in one run, on
# the same shapes, seed and thread count (issue 7).
#
#   scripts/bench-vs-pytorch.sh [--threads N] [--repeat N] [--warmup N] [--seed N]
#                               [--data FILE.csv] [--cases LIST] [--model DIR] [--no-classify]
#                               [--epoch] [--sms FILE] [--quick] [--keep DIR] [--rounds N]
#                               [--base-dtype D]
#
# 1. `lorafit bench --json` times its cases (train-padded 8 x 120, train-last on
#    SMS lengths, infer-padded, infer-last, train-lm / train-lm-all: a causal
#    LM's step on 8 texts of 200-300 tokens, 10 or all next tokens counted)
#    and writes the shapes it used;
# 2. scripts/reference/bench_torch.py times the reference PyTorch model (labs'
#    GPTModel, LoRA rank 8 / alpha 16 on every block Linear, Linear(768, 2)
#    head, AdamW over the trainable parameters) on exactly those batches, with
#    torch.set_num_threads(N) and OMP/MKL_NUM_THREADS=N;
# 3. the table (scripts/reference/bench_table.py): both sides' ms/step and the
#    ratio torch / lorafit per case, lorafit's GFLOP/s against its sgemm
#    ceiling, the ratio lorafit would reach at that ceiling ("at ceil."), and
#    both processes' peak RSS (/usr/bin/time -v);
# 4. unless --no-classify: `lorafit classify` of one message in a fresh process
#    (median wall clock of 10, warm page cache) with an adapter made by a
#    one-epoch run on 16 messages;
# 5. with --cases ...,generate: greedy generation at batch 1 (256 new tokens),
#    lorafit's KV cache against the reference's no-cache loop (generate_text_simple),
#    and lorafit's ms/token against the time to read its weights once;
# 6. with --epoch: one epoch of the labs' split (1,045 messages, batch 8,
#    last-token pooling), wall clock including tokenizing, and its peak RSS.
# With --rounds N, steps 1-3 run N times in turn (lorafit, torch, lorafit, torch, ...)
# and a last table gives each case's ratio per round and their median: on a
# machine whose speed drifts by several % from minute to minute, a ratio of
# runs a minute apart says less than the median of several such pairs.
# The load average is printed before and after: the machine may be shared.
#
# --base-dtype D runs lorafit's bench, classify and epoch with `--base-dtype D`
# (fp32 by default); with bf16 the reference runs under PyTorch's bf16 autocast
# (BENCH_TORCH_AUTOCAST=bf16, see bench_torch.py), the counterpart issue 13 asks
# lorafit's bf16 step to be measured against, unless that variable is set.
#
# Environment: LORAFIT_BIN (default build/lorafit), PYTHON (default /usr/bin/python3),
# BENCH_TORCH_AUTOCAST=bf16 (the reference's forward under torch.autocast bf16: bench_torch.py).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
LORAFIT=${LORAFIT_BIN:-$root/build/lorafit}
PYTHON=${PYTHON:-/usr/bin/python3}
threads=$(nproc)
repeat=5
warmup=2
seed=123
data=""
cases=""
model=/tmp/gpt2-small-random
sms=$root/data/sms_spam/SMSSpamCollection
classify=1
epoch=0
quick=0
keep=""
rounds=1
base_dtype=fp32

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --sms) sms=$2; shift 2 ;;
    --no-classify) classify=0; shift ;;
    --epoch) epoch=1; shift ;;
    --quick) quick=1; shift ;;
    --keep) keep=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --base-dtype) base_dtype=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "bench-vs-pytorch.sh: unknown option '$1'" >&2; usage ;;
  esac
done

[ -x "$LORAFIT" ] || { echo "bench-vs-pytorch.sh: no lorafit at $LORAFIT (build it, or set LORAFIT_BIN)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-vs-pytorch.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
"$PYTHON" -c 'import torch' 2>/dev/null || { echo "bench-vs-pytorch.sh: $PYTHON has no torch" >&2; exit 1; }

case $rounds in ''|*[!0-9]*|0) echo "bench-vs-pytorch.sh: --rounds takes a whole number of at least 1, not '$rounds'" >&2; exit 2 ;; esac
if [ -n "$keep" ]; then work=$keep; mkdir -p "$work"; else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi

# Same threads on both sides. How idle threads wait is each side's own
# choice (lorafit's: include/lorafit/cli/runtime.h; torch's: libgomp's
# default), unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set for both.
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

# Peak RSS in MB from /usr/bin/time -v's report.
peak_mb() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"; }
# A failed run's own messages: its stderr without /usr/bin/time's report.
own_stderr() { sed -e '/^Command exited with non-zero status/d' -e '/^\tCommand being timed/,$d' "$1" >&2; }
wall_s() { awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s }' "$1"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

dtype_args=(--base-dtype "$base_dtype")
if [ "$base_dtype" = bf16 ] && [ -z "${BENCH_TORCH_AUTOCAST:-}" ]; then export BENCH_TORCH_AUTOCAST=bf16; fi
echo "== lorafit vs PyTorch: $threads threads, seed $seed, median of $repeat after $warmup warm-up; lorafit's base $base_dtype, torch's ${BENCH_TORCH_AUTOCAST:+forward under }${BENCH_TORCH_AUTOCAST:-fp32}${BENCH_TORCH_AUTOCAST:+ autocast}"
echo "load average at start: $(load)"

bench_args=(--json --threads "$threads" --repeat "$repeat" --warmup "$warmup" --seed "$seed" --base-dtype "$base_dtype")
[ -n "$data" ] && bench_args+=(--data "$data")
[ -n "$cases" ] && bench_args+=(--cases "$cases")
[ "$quick" = 1 ] && bench_args+=(--quick)
for r in $(seq "$rounds"); do
  if [ "$rounds" -gt 1 ]; then echo "-- round $r of $rounds"; fi
  /usr/bin/time -v "$LORAFIT" bench "${bench_args[@]}" >"$work/lorafit.$r.json" 2>"$work/lorafit.$r.time" ||
    { own_stderr "$work/lorafit.$r.time"; exit 1; }
  echo "load average after lorafit: $(load)"
  /usr/bin/time -v "$PYTHON" "$here/reference/bench_torch.py" "$work/lorafit.$r.json" >"$work/torch.$r.json" 2>"$work/torch.$r.time" ||
    { own_stderr "$work/torch.$r.time"; exit 1; }
  echo "load average after torch:   $(load)"
  echo

  "$PYTHON" "$here/reference/bench_table.py" round "$work/lorafit.$r.json" "$work/torch.$r.json" \
    "$(peak_mb "$work/lorafit.$r.time")" "$(peak_mb "$work/torch.$r.time")"
  if [ "$r" -lt "$rounds" ]; then echo; fi
done

if [ "$rounds" -gt 1 ]; then
  echo
  "$PYTHON" "$here/reference/bench_table.py" summary "$work" "$rounds"
fi

if [ "$classify" = 1 ]; then
  echo
  echo "== lorafit classify, one message, fresh process, warm page cache: $model"
  if [ ! -f "$model/model.safetensors" ]; then
    echo "(no $model: writing a random gpt2-small there)"
    "$LORAFIT" random-model --out "$model" >/dev/null
  fi
  # The cheapest adapter: one epoch over 16 messages (2 steps).
  { echo "Label,Text"
    for i in 1 2 3 4 5 6 7 8; do
      echo "ham,See you at the station at $i and I will bring the tickets"
      echo "spam,WINNER! Claim your free prize $i now: call 0800 555 01$i"
    done; } >"$work/tiny.csv"
  "$LORAFIT" train --model "$model" --train "$work/tiny.csv" --out "$work/adapter" --epochs 1 --threads "$threads" \
    --log-every 0 "${dtype_args[@]}" >/dev/null 2>"$work/train.err" || { cat "$work/train.err" >&2; exit 1; }
  msg="Congratulations! You have won a free cruise. Text WIN to 80086 to claim."
  cmd=("$LORAFIT" classify --model "$model" --adapter "$work/adapter" --threads "$threads" "${dtype_args[@]}" "$msg")
  "${cmd[@]}" >/dev/null  # warms the page cache
  times=()
  for i in $(seq 10); do
    t0=$(date +%s%N)
    "${cmd[@]}" >/dev/null
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  /usr/bin/time -v "${cmd[@]}" >"$work/classify.out" 2>"$work/classify.time"
  printf '%s\n' "${times[@]}" | sort -n | awk -v rss="$(peak_mb "$work/classify.time")" '
    { t[NR] = $1 / 1000 }
    END { med = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
          printf "classify: median %.1f ms (min %.1f, max %.1f) of %d runs; peak RSS %s MB\n", med, t[1], t[NR], NR, rss }'
  echo "output: $(cat "$work/classify.out")"
  echo "load average: $(load)"
fi

if [ "$epoch" = 1 ]; then
  echo
  echo "== one epoch of the labs' split, last-token pooling, batch 8, $threads threads: $model"
  "$LORAFIT" split "$sms" --out "$work/split" --balance >/dev/null
  /usr/bin/time -v "$LORAFIT" train --model "$model" --train "$work/split/train.csv" \
    --out "$work/epoch-adapter" --epochs 1 --threads "$threads" --log-every 0 "${dtype_args[@]}" >"$work/epoch.out" 2>"$work/epoch.time" ||
    { own_stderr "$work/epoch.time"; exit 1; }
  echo "epoch: $(wall_s "$work/epoch.time") s wall clock (process start to exit, tokenizing included); peak RSS $(peak_mb "$work/epoch.time") MB"
  tail -n 3 "$work/epoch.out"
  echo "load average: $(load)"
fi
