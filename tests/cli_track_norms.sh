# cli_track_norms.sh - train --track-norms and inspect --log on the command
# line: the refusal without --log, the records among the step lines (one
# per N steps and one after the last), the table (layer x step) and the
# SVG of inspect --log, and a damaged log refused naming file:line. The
# values themselves are checked in tests/test_norm_log.c.
. "$(dirname "$0")/lib.sh"

tiny_model_and_csv
TRAIN=(train --model "$TMP/model" --train "$TMP/tiny.csv" --batch-size 2 --epochs 2 --threads 1 --log-every 0
       --lr 0.01 --targets W_query,W_value)
expect_fail 2 "--track-norms needs --log FILE" "${TRAIN[@]}" --out "$TMP/a0" --track-norms 2
expect_that "no adapter written after the refusal" test ! -e "$TMP/a0"

run "${TRAIN[@]}" --out "$TMP/a" --track-norms 4 --log "$TMP/t.jsonl"
[ "$rc" -eq 0 ] && pass || fail "train --track-norms 4: $err"
expect_that "6 step lines and norms records at steps 4 and 6" \
  test "$(grep -vc '"record"' "$TMP/t.jsonl")/$(grep -o '"record": "norms", "step": [0-9]*' "$TMP/t.jsonl" | tr -dc '0-9\n' | paste -sd,)" = "6/4,6"

run inspect --log "$TMP/t.jsonl" --svg "$TMP/n.svg"
[ "$rc" -eq 0 ] && pass || fail "inspect --log: $err"
expect_that "a header with both steps and 4 rows (2 layers x 2 targets)" \
  test "$(printf '%s\n' "$out" | sed -n 2p | tr -s ' ')/$(printf '%s\n' "$out" | grep -c '^[01] ')" = "layer target step 4 step 6/4"
expect_that "the SVG has 2 panels of 2 x 2 cells" \
  test "$(grep -c 'class="panel"' "$TMP/n.svg")/$(grep -c 'class="cell"' "$TMP/n.svg")" = "2/8"

printf '{"step": 1}\n{"record": "norms", "step": 2, "norms": {"a": [1' > "$TMP/bad.jsonl"
expect_fail 2 "bad.jsonl:2: not a JSON object" inspect --log "$TMP/bad.jsonl"
grep -v '"record"' "$TMP/t.jsonl" > "$TMP/steps.jsonl"
expect_fail 2 "steps.jsonl holds no norms records" inspect --log "$TMP/steps.jsonl"
expect_fail 2 "give --adapter DIR or --log FILE" inspect --log "$TMP/t.jsonl" --adapter "$TMP/a"
expect_fail 2 "give --adapter DIR or --log FILE" inspect
expect_fail 2 "are for --adapter, not --log" inspect --log "$TMP/t.jsonl" --json
finish
