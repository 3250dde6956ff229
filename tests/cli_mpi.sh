# cli_mpi.sh - `mpirun -n N lorafit train` (issue 16) on a tiny random model:
# N = 2 and 3 ranks at global batch 8 train what one process trains at batch
# 8 (losses and adapter within 1e-6 relative: only the order of the sums
# differs), bitwise the same across repeated runs; a signal to one rank stops
# every rank at the same step with one checkpoint, and resuming with the same
# N gives the uninterrupted run's adapter bitwise (another N is refused,
# saying what to do); a rank that fails (its own unreadable --train, a NaN
# injected on it, other settings) ends every rank non-zero within seconds with
# one message from rank 0. eval (classification, causal-lm, qa) splits its
# texts over the ranks and reports what one process reports. Skipped, saying why, without mpirun or without MPI
# in the binary.
. "$(dirname "$0")/lib.sh"

command -v mpirun >/dev/null || { echo "SKIP: mpirun is absent (apt-get install openmpi-bin)"; exit 77; }
# Open MPI refuses root without these; --oversubscribe lets 3 ranks share 2 cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Open MPI leaves its components' memory behind at MPI_Finalize (in modules
# it has unloaded by then, which LeakSanitizer cannot name or suppress): leak
# checks are off in the ranks of a sanitizer build, and on in plain runs.
MPI_ENV=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
MPIRUN=(timeout 120 "${MPI_ENV[@]}" mpirun --oversubscribe)
if "${MPIRUN[@]}" -n 2 "$LORAFIT" train --help 2>&1 | grep -q "built without MPI"; then
  echo "SKIP: this lorafit was built without MPI (cmake -DLORAFIT_MPI=ON needs libopenmpi-dev)"
  exit 77
fi

# mpi N ARGS...: lorafit ARGS on N ranks; sets $out, $err, $rc as run does.
mpi() {
  local n=$1; shift
  "${MPIRUN[@]}" -n "$n" "$LORAFIT" "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  out=$(cat "$TMP/out")
  err=$(cat "$TMP/err")
}

# floats FILE: the tensor data of a safetensors file, one float per line
# (the 8-byte header length, the JSON header, then the data).
floats() {
  local n
  n=$(od -An -t u8 -N8 "$1" | tr -d ' ')
  od -An -v -t f4 -j $((8 + n)) "$1" | tr -s ' ' '\n' | grep -v '^$'
}

# close_adapters A B: the same tensors within 1e-6 relative, as the norm of
# the difference against the norm of A (elementwise relative error means
# nothing for values near 0, and AdamW's first steps move every weight by
# about lr whatever the size of its gradient, so a gradient near 0 whose last
# bits differ moves its weight visibly: a few weights differ by up to 1e-5).
close_adapters() {
  paste <(floats "$1/adapter_model.safetensors") <(floats "$2/adapter_model.safetensors") | awk '
    { d = $1 - $2; dd += d * d; aa += $1 * $1; n++ }
    END { if (n == 0 || aa == 0 || dd > 1e-12 * aa) { printf "%d floats, |a| %g, |a - b| %g\n", n, sqrt(aa), sqrt(dd); exit 1 } }'
}

# close_losses LOG1 LOG2: every step's loss within 1e-6 relative (plus the
# 5e-7 of printing them with 6 decimals).
close_losses() {
  paste <(grep -o '"loss": [0-9.e+-]*' "$1" | cut -d' ' -f2) <(grep -o '"loss": [0-9.e+-]*' "$2" | cut -d' ' -f2) |
    awk '{ d = $1 - $2; if (d < 0) d = -d; if (NF != 2 || d > 1e-6 * $1 + 5e-7) { print "step " NR ": " $0; bad = 1 } n++ }
         END { if (bad || n == 0) exit 1 }'
}

# One message: exactly one "lorafit train: ..." line holds the error.
one_message() {
  local want=$1 n
  n=$(printf '%s\n' "$err" | grep -c "^lorafit train: .*$want")
  [ "$n" -eq 1 ]
}

tiny_model_and_csv
# 48 texts: the six messages eight times, numbered (6 batches of 8 per epoch).
{
  echo 'Label,Text'
  for i in 1 2 3 4 5 6 7 8; do tail -n +2 "$TMP/tiny.csv" | sed "s/\$/ $i/; s/\" $i\$/ $i\"/"; done
} > "$TMP/train.csv"
head -13 "$TMP/train.csv" > "$TMP/val.csv"
# (At --lr 1e-2 the tiny model overfits within 12 steps and AdamW, which
# divides each gradient by its own magnitude, turns last-bit differences of
# near-zero gradients into 1e-5 differences of the weights: 1e-3 keeps to 1e-6.)
TRAIN=(train --model "$TMP/model" --train "$TMP/train.csv" --val "$TMP/val.csv" --batch-size 8 --lr 1e-3
       --epochs 2 --threads 1 --log-every 1)

run "${TRAIN[@]}" --out "$TMP/n1" --log "$TMP/n1.jsonl"
[ "$rc" -eq 0 ] && pass || fail "one process: exit $rc: $err"
n1_out=$out
[ "$(wc -l < "$TMP/n1.jsonl")" -eq 12 ] && pass || fail "one process: $(wc -l < "$TMP/n1.jsonl") steps, want 12"

for n in 2 3; do
  for rep in a b; do
    mpi "$n" "${TRAIN[@]}" --out "$TMP/n$n$rep" --log "$TMP/n$n$rep.jsonl"
    [ "$rc" -eq 0 ] && pass || fail "$n ranks: exit $rc: $err"
  done
  expect_that "$n ranks: losses within 1e-6 of one process's" close_losses "$TMP/n1.jsonl" "$TMP/n${n}a.jsonl"
  expect_that "$n ranks: adapter within 1e-6 of one process's" close_adapters "$TMP/n1" "$TMP/n${n}a"
  expect_that "$n ranks: the adapter repeats bitwise" \
    cmp -s "$TMP/n${n}a/adapter_model.safetensors" "$TMP/n${n}b/adapter_model.safetensors"
  expect_that "$n ranks: the losses repeat bitwise" \
    cmp -s <(sed 's/"seconds.*//' "$TMP/n${n}a.jsonl") <(sed 's/"seconds.*//' "$TMP/n${n}b.jsonl")
  # rank 0 alone prints: the same lines as one process (validation's loss and
  # accuracy included), once
  [ "$(printf '%s\n' "$out" | grep -v Finished)" = "$(printf '%s\n' "$n1_out" | grep -v Finished)" ] && pass ||
    fail "$n ranks: stdout differs from one process's"$'\n'"$out"$'\n'"--- one process:"$'\n'"$n1_out"
  grep -q '"ranks":[[:space:]]*'"$n" "$TMP/n${n}a/adapter_config.json" && pass || fail "$n ranks: adapter_config.json lacks \"ranks\": $n"
done
grep -q '"ranks"' "$TMP/n1/adapter_config.json" && fail "one process wrote \"ranks\" into its config" || pass

# The language model: the mean over the whole batch's target tokens (the
# completions, the prompts masked), which the ranks hold in unequal numbers.
for i in $(seq 1 16); do
  printf '{"prompt": "Where do we meet at %d?", "completion": " At the station%s, bring the book."}\n' "$i" \
    "$(printf ' and then the park%.0s' $(seq 1 $((i % 4))))"
done > "$TMP/lm.jsonl"
LM=(train --task causal-lm --model "$TMP/model" --train "$TMP/lm.jsonl" --batch-size 8 --lr 1e-3 --threads 1 --log-every 0)
run "${LM[@]}" --out "$TMP/lm1" --log "$TMP/lm1.jsonl"
[ "$rc" -eq 0 ] && pass || fail "causal-lm, one process: exit $rc: $err"
mpi 3 "${LM[@]}" --out "$TMP/lm3" --log "$TMP/lm3.jsonl"
[ "$rc" -eq 0 ] && pass || fail "causal-lm, 3 ranks: exit $rc: $err"
expect_that "causal-lm, 3 ranks: losses within 1e-6 of one process's" close_losses "$TMP/lm1.jsonl" "$TMP/lm3.jsonl"
expect_that "causal-lm, 3 ranks: adapter within 1e-6 of one process's" close_adapters "$TMP/lm1" "$TMP/lm3"

# eval: each rank classifies its share; the report is one process's.
run eval --model "$TMP/model" --adapter "$TMP/n1" --data "$TMP/train.csv" --threads 1
e1=$out
mpi 3 eval --model "$TMP/model" --adapter "$TMP/n1" --data "$TMP/train.csv" --threads 1
[ "$rc" -eq 0 ] && pass || fail "eval on 3 ranks: exit $rc: $err"
[ "$out" = "$e1" ] && pass || fail "eval on 3 ranks:"$'\n'"$out"$'\n'"--- one process:"$'\n'"$e1"

# eval --task causal-lm and qa: each rank its share of the texts or questions;
# rank 0 reports (and writes the predictions of) the whole, as one process.
LMEVAL=(eval --task causal-lm --model "$TMP/model" --adapter "$TMP/lm1" --data "$TMP/lm.jsonl" --threads 1 --json)
# same_lm_eval A B: the same JSON but for the perplexity, and that within
# 1e-6 relative: the loss sums are added in another order, and each rank's
# forward runs its texts' rows in GEMM calls of another height, which
# OpenBLAS's kernels round differently in the last bit of a row's values
# (the LM head pads its panels, the blocks do not): a few fp32 ulps of a
# token's loss, so about 1e-6 of the mean loss that the perplexity
# exponentiates. The classifier's report above is compared whole.
same_lm_eval() {
  [ "${1/\"perplexity\": [0-9.]*/}" = "${2/\"perplexity\": [0-9.]*/}" ] &&
    awk -v a="$(printf '%s' "$1" | grep -o '"perplexity": [0-9.]*' | cut -d' ' -f2)" \
        -v b="$(printf '%s' "$2" | grep -o '"perplexity": [0-9.]*' | cut -d' ' -f2)" \
        'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-6 * a) }'
}
run "${LMEVAL[@]}"
e1=$out
mpi 3 "${LMEVAL[@]}"
[ "$rc" -eq 0 ] && same_lm_eval "$out" "$e1" && pass ||
  fail "eval --task causal-lm on 3 ranks: exit $rc: $out $err"$'\n'"--- one process: $e1"
# Contexts of 1 to 13 sentences: each answer runs until the context is full
# (128 tokens), so answers differ in length and the order of the gathered
# answers shows in the predictions file.
{
  printf '{"version": "1.1", "data": [{"title": "t", "paragraphs": ['
  for i in $(seq 1 13); do
    [ "$i" -gt 1 ] && printf ', '
    printf '{"context": "%s", "qas": [{"id": "q%d", "question": "Which river?", "answers": [{"text": "Rhine", "answer_start": 0}]}]}' \
      "$(printf 'The river is long. %.0s' $(seq 1 "$i"))" "$i"
  done
  printf ']}]}\n'
} > "$TMP/squad.json"
QA=(eval --task qa --model "$TMP/model" --data "$TMP/squad.json" --max-new-tokens 200 --threads 1 --json)
run "${QA[@]}" --predictions "$TMP/pred1.json"
e1=$out
for n in 2 3; do
  mpi "$n" "${QA[@]}" --predictions "$TMP/pred$n.json"
  [ "$rc" -eq 0 ] && [ "$out" = "$e1" ] && pass || fail "eval --task qa on $n ranks: exit $rc: $out $err"$'\n'"--- one process: $e1"
  expect_that "eval --task qa on $n ranks: the predictions file of one process" cmp -s "$TMP/pred1.json" "$TMP/pred$n.json"
done

# Interrupt and resume: SIGINT to rank 1 alone (not the one that logs); the
# ranks stop after the same step, rank 0 saves once and says how to resume.
"${MPI_ENV[@]}" mpirun --oversubscribe -n 2 "$LORAFIT" "${TRAIN[@]}" --epochs 1000 --out "$TMP/stopped" --log "$TMP/stopped.jsonl" \
  >/dev/null 2>"$TMP/err_stopped" &
pid=$!
for _ in $(seq 1 600); do
  [ -f "$TMP/stopped.jsonl" ] && [ "$(wc -l < "$TMP/stopped.jsonl")" -ge 15 ] && break
  sleep 0.05
done
ranks=($(pgrep -P "$pid"))
[ "${#ranks[@]}" -eq 2 ] && pass || fail "mpirun's children: ${ranks[*]}"
kill -INT "${ranks[-1]}"
wait "$pid"
rc=$?
err=$(cat "$TMP/err_stopped")
[ "$rc" -ne 0 ] && pass || fail "interrupted run exited 0"
expect_that "one checkpoint message: $err" one_message "stopped by a signal to another rank after step [0-9]*; checkpoint saved to"
case "$err" in *"Resume with: mpirun -n 2 lorafit train "*) pass ;; *) fail "no mpirun resume hint: $err" ;; esac
stopped_at=$(wc -l < "$TMP/stopped.jsonl")
epochs=$((stopped_at / 6 + 1))
mpi 2 "${TRAIN[@]}" --epochs "$epochs" --out "$TMP/straight" --log-every 0
[ "$rc" -eq 0 ] && pass || fail "uninterrupted $epochs-epoch run: exit $rc: $err"
run "${TRAIN[@]}" --resume "$TMP/stopped" --epochs "$epochs"
expect_that "resume without mpirun is refused: $err" one_message "trained by 2 processes and this run has 1; resume it with mpirun -n 2"
[ "$rc" -eq 2 ] && pass || fail "resume with another N: exit $rc, want 2"
mpi 2 "${TRAIN[@]}" --resume "$TMP/stopped" --epochs "$epochs" --log "$TMP/stopped.jsonl"
[ "$rc" -eq 0 ] && pass || fail "resume on 2 ranks: exit $rc: $err"
expect_that "resumed on 2 ranks = uninterrupted, bitwise" \
  cmp -s "$TMP/stopped/adapter_model.safetensors" "$TMP/straight/adapter_model.safetensors"

# A failing rank: MPMD (`A : B`) gives rank 1 its own command line.
# fail_rank WANT ARGS1 -- ARGS2: rank 0 runs ARGS1, rank 1 ARGS2.
fail_rank() {
  local want=$1 a=() start; shift
  while [ "$1" != "--" ]; do a+=("$1"); shift; done
  shift
  start=$(date +%s)
  timeout 60 "${MPI_ENV[@]}" mpirun --oversubscribe -n 1 "$LORAFIT" "${a[@]}" : -n 1 "$@" >/dev/null 2>"$TMP/err"
  rc=$?
  err=$(cat "$TMP/err")
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && pass || fail "rank 1 failing ($want): exit $rc: $err"
  [ $(($(date +%s) - start)) -le 20 ] && pass || fail "rank 1 failing ($want): took $(($(date +%s) - start)) s"
  expect_that "rank 1 failing: one message '$want': $err" one_message "$want"
}
ONE=(train --model "$TMP/model" --train "$TMP/train.csv" --threads 1 --out "$TMP/failed" --force --log-every 0)
fail_rank "rank 1: cannot open $TMP/absent.csv" "${ONE[@]}" -- \
  "$LORAFIT" train --model "$TMP/model" --train "$TMP/absent.csv" --threads 1 --out "$TMP/failed" --force
# LORAFIT_TEST_NAN_AT_STEP (test only): that rank's loss is NaN at that step.
fail_rank "the loss became NaN at epoch 1, batch 2 (step 3)" "${ONE[@]}" -- \
  env LORAFIT_TEST_NAN_AT_STEP=3 "$LORAFIT" "${ONE[@]}"
fail_rank "not the same on every rank: the training settings" "${ONE[@]}" -- "$LORAFIT" "${ONE[@]}" --lr 1e-3

finish
