# cli_grid.sh - lorafit grid on a tiny random model: a 2 x 2 grid gives 4
# rows whose parameter counts are the hand formula's (trainable: 4 adapters
# of rank r, r * (32 + 32) each, and the head's 32 * 2 + 2) and
# count-params' (all params); the CSV and the JSON hold the same rows; a
# second run skips every finished run (nothing rewritten); a grid stopped
# by SIGINT in its second run resumes it from its checkpoint and ends with
# the table of an uninterrupted grid; bad lists, and targets the model
# lacks, are refused before any run.
. "$(dirname "$0")/lib.sh"

tiny_model_and_csv
GRID=(grid --model "$TMP/model" --train "$TMP/tiny.csv" --val "$TMP/tiny.csv" --test "$TMP/tiny.csv"
      --targets W_query,W_value --batch-size 2 --lr 0.01 --threads 1)

run "${GRID[@]}" --out "$TMP/g" --rank 2 --rank 4 --alpha 8 --alpha 16 --epochs 2
[ "$rc" -eq 0 ] && pass || fail "grid 2 x 2: $err"
expect_that "4 data rows in grid.csv" test "$(tail -n +2 "$TMP/g/grid.csv" | wc -l)" = 4
expect_that "4 runs in grid.json" test "$(grep -c '"name":' "$TMP/g/grid.json")" = 4
expect_that "the table printed has a header and 4 rows" test "$(printf '%s\n' "$out" | grep -c '^r[24]_a')" = 4
for r in 2 4; do
  all=$("$LORAFIT" count-params --model "$TMP/model" --rank $r --targets W_query,W_value --json |
        sed -n '/with_classification_head/,/}/s/.*"all":[[:space:]]*\([0-9]*\).*/\1/p')
  for a in 8 16; do
    row=$(grep "^r${r}_a${a}_lr0.01_W_query+W_value," "$TMP/g/grid.csv")
    want="r${r}_a${a}_lr0.01_W_query+W_value,$r,$a,0,0.01,\"W_query,W_value\",$((4 * r * 64 + 66)),$all,"
    case "$row" in
      "$want"*) pass ;;
      *) fail "grid.csv row r=$r alpha=$a"$'\n'"got:  $row"$'\n'"want: $want..." ;;
    esac
  done
done
expect_that "each run has its adapter, log and result" \
  test -f "$TMP/g/r4_a16_lr0.01_W_query+W_value/adapter/adapter_config.json" -a \
       -f "$TMP/g/r4_a16_lr0.01_W_query+W_value/train.jsonl" -a -f "$TMP/g/r4_a16_lr0.01_W_query+W_value/result.json"

# again: every run skipped, nothing rewritten, the same table
cp "$TMP/g/grid.csv" "$TMP/first.csv"
touch -d '1 minute ago' "$TMP/g"/*/result.json "$TMP/g"/*/adapter/*
touch "$TMP/marker"
run "${GRID[@]}" --out "$TMP/g" --rank 2 --rank 4 --alpha 8 --alpha 16 --epochs 2
[ "$rc" -eq 0 ] && pass || fail "grid again: $err"
expect_that "4 runs skipped" test "$(printf '%s\n' "$err" | grep -c 'finished before, skipped')" = 4
expect_that "no run's files rewritten" test -z "$(find "$TMP/g" -newer "$TMP/marker" ! -name 'grid.*' ! -type d)"
expect_that "the same table" cmp -s "$TMP/first.csv" "$TMP/g/grid.csv"

# a finished run that lost its result: its complete checkpoint resumes (nothing to train), evaluated again
rm "$TMP/g/r4_a8_lr0.01_W_query+W_value/result.json"
run "${GRID[@]}" --out "$TMP/g" --rank 2 --rank 4 --alpha 8 --alpha 16 --epochs 2
[ "$rc" -eq 0 ] && pass || fail "grid after a lost result: $err"
expect_that "3 runs skipped, 1 resumed" test "$(printf '%s\n' "$err" | grep -c 'finished before, skipped')" = 3 -a \
  -n "$(printf '%s\n' "$err" | grep 'r4_a8_lr0.01_W_query+W_value: resuming its checkpoint')"
expect_that "the same table (but the times)" test "$(cut -d, -f1-11 "$TMP/first.csv")" = "$(cut -d, -f1-11 "$TMP/g/grid.csv")"

# stopped in its second run, then resumed: the table of an uninterrupted grid
LONG=("${GRID[@]}" --rank 2 --rank 4 --epochs 400)
run "${LONG[@]}" --out "$TMP/whole"
[ "$rc" -eq 0 ] && pass || fail "uninterrupted grid: $err"
interrupt_after "$TMP/stopped/r4_a16_lr0.01_W_query+W_value/train.jsonl" 20 "${LONG[@]}" --out "$TMP/stopped"
expect_that "stopped by SIGINT: exit 130, saying so (rc $rc: $err)" \
  test "$rc" = 130 -a -n "$(printf '%s\n' "$err" | grep 'stopped during r4_a16')"
run "${LONG[@]}" --out "$TMP/stopped"
[ "$rc" -eq 0 ] && pass || fail "resumed grid: $err"
expect_that "the first run skipped, the second resumed" \
  test -n "$(printf '%s\n' "$err" | grep 'r2_a16_lr0.01_W_query+W_value: finished before, skipped')" -a \
       -n "$(printf '%s\n' "$err" | grep 'r4_a16_lr0.01_W_query+W_value: resuming its checkpoint')"
expect_that "the resumed grid's table is the uninterrupted one's (but the times)" \
  test "$(cut -d, -f1-11 "$TMP/stopped/grid.csv")" = "$(cut -d, -f1-11 "$TMP/whole/grid.csv")"
expect_that "and so are its adapters" cmp -s "$TMP/stopped/r4_a16_lr0.01_W_query+W_value/adapter/adapter_model.safetensors" \
  "$TMP/whole/r4_a16_lr0.01_W_query+W_value/adapter/adapter_model.safetensors"

expect_fail 2 "--rank 0: want a whole number in [1, 65536]" "${GRID[@]}" --out "$TMP/bad" --rank 4 --rank 0
expect_fail 2 "--lr x: want a number" "${GRID[@]}" --out "$TMP/bad" --lr x
expect_fail 2 "--targets W_query,,W_value" "${GRID[@]}" --out "$TMP/bad" --targets W_query,,W_value
# A value twice would be one run listed twice in the table: refused, whatever its spelling.
expect_fail 2 "--lr 0.001: the same value as --lr 1e-3" "${GRID[@]}" --out "$TMP/bad" --lr 1e-3 --lr 0.001
expect_fail 2 "--targets c_attn: given twice" "${GRID[@]}" --out "$TMP/bad" --targets c_attn --targets c_attn
# A target the model lacks is refused before the first run trains, not when its run comes.
expect_fail 2 "--targets W_query,fc9: unknown target 'fc9'" "${GRID[@]}" --out "$TMP/bad" \
  --targets W_query --targets W_query,fc9
expect_that "nothing written after a refusal" test ! -e "$TMP/bad"
finish
