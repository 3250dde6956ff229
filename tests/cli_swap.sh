# cli_swap.sh - classify and eval with several --adapter over one base: each
# adapter's results are exactly what a run with that adapter alone prints
# (text and JSON), side by side in the order given; adapters with another
# class order (the file read again against it) or another --max-length (the
# texts encoded again) too; the base model is opened once; a language-model
# adapter among them is refused, a language-model task takes one adapter,
# and at most 16 are taken. Needs no SMS data: a tiny
# random GPT-2 and a hand-made CSV (tiny_model_and_csv in lib.sh).
. "$(dirname "$0")/lib.sh"

tiny_model_and_csv
TRAIN=(train --model "$TMP/model" --train "$TMP/tiny.csv" --batch-size 2 --threads 1 --log-every 0 --lr 0.01)
A1=$TMP/a1 A2=$TMP/a2 A3=$TMP/a3
run "${TRAIN[@]}" --out "$A1" --seed 1
[ "$rc" -eq 0 ] && pass || fail "train a1: $err"
run "${TRAIN[@]}" --out "$A2" --seed 2 --max-length 6
[ "$rc" -eq 0 ] && pass || fail "train a2 (--max-length 6): $err"
run "${TRAIN[@]}" --out "$A3" --seed 3 --labels spam,ham
[ "$rc" -eq 0 ] && pass || fail "train a3 (--labels spam,ham): $err"
MSGS=("hello there" "WIN a free prize now, text 80082")
BASE=(--model "$TMP/model" --threads 1)

# classify: per message, a line per adapter prefixed by its directory.
declare -A alone alone_json
for a in "$A1" "$A2" "$A3"; do
  run classify "${BASE[@]}" --adapter "$a" "${MSGS[@]}"
  [ "$rc" -eq 0 ] && pass || fail "classify with $a alone: $err"
  alone[$a]=$out
  run classify "${BASE[@]}" --adapter "$a" --json "${MSGS[@]}"
  alone_json[$a]=$out
done
want=""
for i in 0 1; do
  for a in "$A1" "$A2" "$A3"; do
    line=$(printf '%s\n' "${alone[$a]}" | sed -n "$((i + 1))p")
    want+="$a: $line"$'\n'
  done
done
expect_out "${want%$'\n'}" classify "${BASE[@]}" --adapter "$A1" --adapter "$A2" --adapter "$A3" "${MSGS[@]}"
case "$err" in *"longer than 6 tokens were cut"*) pass ;; *) fail "no truncation note for a2: $err" ;; esac

# --json: one object per message, its "results" one per adapter.
want=""
for i in 0 1; do
  msg=${MSGS[$i]} results=""
  for a in "$A1" "$A2" "$A3"; do
    line=$(printf '%s\n' "${alone_json[$a]}" | sed -n "$((i + 1))p")
    results+="${results:+,}{\"adapter\":\"$a\",${line#\{\"text\":\"$msg\",}"
  done
  want+="{\"text\":\"$msg\",\"results\":[$results]}"$'\n'
done
expect_out "${want%$'\n'}" classify "${BASE[@]}" --adapter "$A1" --adapter "$A2" --adapter "$A3" --json "${MSGS[@]}"

# eval: each adapter's report under a heading "== DIR ==".
EVAL=(eval "${BASE[@]}" --data "$TMP/tiny.csv")
want=""
for a in "$A1" "$A2" "$A3"; do
  run "${EVAL[@]}" --adapter "$a"
  [ "$rc" -eq 0 ] && pass || fail "eval with $a alone: $err"
  want+="${want:+$'\n\n'}== $a =="$'\n'"$out"
done
expect_out "$want" "${EVAL[@]}" --adapter "$A1" --adapter "$A2" --adapter "$A3"

# eval --json: an array, one object per adapter, "adapter" first then the
# fields of that adapter's own object, value for value.
numbers() { grep -E '"(accuracy|loss|n|correct|precision|recall|f1|support)":' | tr -d ' \t,'; }
want=""
for a in "$A1" "$A2" "$A3"; do
  run "${EVAL[@]}" --adapter "$a" --json
  want+="\"adapter\":\"$a\""$'\n'$(printf '%s\n' "$out" | numbers)$'\n'
done
run "${EVAL[@]}" --adapter "$A1" --adapter "$A2" --adapter "$A3" --json
got=$(printf '%s\n' "$out" | grep -E '"adapter":|"(accuracy|loss|n|correct|precision|recall|f1|support)":' | tr -d ' \t,')
[ "$rc" -eq 0 ] && [ "${out:0:1}" = "[" ] && [ "$got" = "${want%$'\n'}" ] && pass ||
  fail "eval --json with three adapters (exit $rc)"$'\n'"got:  $got"$'\n'"want: $want"

# The base is opened once, however many adapters.
if command -v strace >/dev/null 2>&1 && strace -f -e trace=open,openat -o "$TMP/trace1" "$LORAFIT" \
  "${EVAL[@]}" --adapter "$A1" >/dev/null 2>&1; then
  strace -f -e trace=open,openat -o "$TMP/trace3" "$LORAFIT" "${EVAL[@]}" --adapter "$A1" --adapter "$A2" \
    --adapter "$A3" >/dev/null 2>&1
  one=$(grep -c 'model/model.safetensors"' "$TMP/trace1") three=$(grep -c 'model/model.safetensors"' "$TMP/trace3")
  [ "$one" -ge 1 ] && [ "$three" -eq "$one" ] && pass ||
    fail "model.safetensors opened $one time(s) for one adapter, $three for three"
fi

# Refusals.
printf 'hello world, this is text\nand some more text here\n' > "$TMP/lm.txt"
run train --task causal-lm --model "$TMP/model" --train "$TMP/lm.txt" --out "$TMP/lm" --threads 1 --log-every 0 \
  --batch-size 1
[ "$rc" -eq 0 ] && pass || fail "train a language-model adapter: $err"
expect_fail 2 "lm is an adapter for causal language modelling" classify "${BASE[@]}" --adapter "$A1" \
  --adapter "$TMP/lm" hi
[ -z "$out" ] && pass || fail "classify printed before refusing the language-model adapter: $out"
expect_fail 2 "lm is an adapter for causal language modelling" eval "${BASE[@]}" --data "$TMP/tiny.csv" \
  --adapter "$A1" --adapter "$TMP/lm"
[ -z "$out" ] && pass || fail "eval printed before refusing the language-model adapter: $out"
expect_fail 2 "--adapter is given once with --task qa or causal-lm" eval --task causal-lm "${BASE[@]}" \
  --data "$TMP/tiny.csv" --adapter "$A1" --adapter "$A2"
many=()
for i in $(seq 17); do many+=(--adapter "$A1"); done
expect_fail 2 "option '--adapter' is given more than 16 times" classify "${BASE[@]}" "${many[@]}" hi
expect_fail 2 "no such adapter directory" classify "${BASE[@]}" --adapter "$A1" --adapter "$TMP/none" hi

finish
