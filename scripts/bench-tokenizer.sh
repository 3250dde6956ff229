#!/usr/bin/env bash
# bench-tokenizer.sh - single-thread GPT-2 encode throughput of lorafit beside
# the npm tiktoken (WASM), on the same text in the same run.
#
#   scripts/bench-tokenizer.sh [FILE] [ROUNDS] [SECONDS]
#
# FILE defaults to data/sms_spam/SMSSpamCollection. Each round runs
# `lorafit tokenize --bench` and scripts/tokenizer-ref/bench.mjs in turn (each
# times two modes: the messages joined as one string, and one by one, for
# SECONDS each); the best MB/s of ROUNDS (default 3) per mode is reported, with
# the ratio. The two sides must print the same id digest, or the run fails.
# LORAFIT_BIN picks the executable (default build-tok/lorafit, then build/lorafit).
# Needs `npm ci` in scripts/tokenizer-ref once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
file=${1:-$root/data/sms_spam/SMSSpamCollection}
rounds=${2:-3}
seconds=${3:-2}
bin=${LORAFIT_BIN:-}
if [[ -z $bin ]]; then
  for b in "$root/build-tok/lorafit" "$root/build/lorafit"; do [[ -x $b ]] && bin=$b && break; done
fi
[[ -x $bin ]] || { echo "bench-tokenizer: no lorafit executable; build it or set LORAFIT_BIN" >&2; exit 2; }
[[ -r $file ]] || { echo "bench-tokenizer: cannot read $file" >&2; exit 2; }
[[ -d $root/scripts/tokenizer-ref/node_modules/tiktoken ]] ||
  { echo "bench-tokenizer: run 'npm ci' in scripts/tokenizer-ref first" >&2; exit 2; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "$file, $rounds rounds of ${seconds}s per mode; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$bin" tokenize --bench "$file" --seconds "$seconds" | grep MB/s | tee -a "$out"
  node "$root/scripts/tokenizer-ref/bench.mjs" "$file" "$seconds" | tee -a "$out"
done
# Lines: IMPL MODE MBPS "MB/s" BYTES "bytes," IDS "ids," "digest" HEX ...
awk '
  { mbps = $3 + 0; key = $1 " " $2; if (mbps > best[key]) best[key] = mbps
    d = $10; sub(/,$/, "", d)
    if (($2 in digest) && digest[$2] != d) bad = 1; digest[$2] = d }
  END {
    if (bad) { print "bench-tokenizer: lorafit and tiktoken produced different ids" > "/dev/stderr"; exit 1 }
    print ""
    printf "%-12s %14s %14s %8s\n", "mode", "lorafit MB/s", "tiktoken MB/s", "ratio"
    n = split("one-string per-message", modes, " ")
    for (i = 1; i <= n; i++) {
      m = modes[i]; l = best["lorafit " m]; t = best["tiktoken " m]
      printf "%-12s %14.2f %14.2f %7.1fx\n", m, l, t, (t > 0 ? l / t : 0)
    }
  }' "$out"
