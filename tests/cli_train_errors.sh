# cli_train_errors.sh - train, eval and classify refuse what they must: wrong
# options, missing or malformed inputs, an adapter that exists or belongs to
# another base model. Each error names the problem, exits non-zero and writes
# nothing. Needs no SMS data: a tiny random GPT-2 and hand-made CSVs.
. "$(dirname "$0")/lib.sh"

tiny_model_and_csv
TRAIN=(train --model "$TMP/model" --train "$TMP/tiny.csv" --batch-size 2 --threads 1 --log-every 0)
run "${TRAIN[@]}" --out "$TMP/adapter"
[ "$rc" -eq 0 ] && pass || fail "train on tiny.csv: exit $rc: $err"

# Usage: the option named, the usage line, exit 2.
expect_fail 2 "--model is required" train --train "$TMP/tiny.csv" --out "$TMP/x0"
expect_fail 2 "usage: lorafit train" train --train "$TMP/tiny.csv" --out "$TMP/x0"
expect_fail 2 "'--bogus'" "${TRAIN[@]}" --out "$TMP/x0" --bogus
expect_fail 2 "'--rank'" "${TRAIN[@]}" --out "$TMP/x0" --rank 0
expect_fail 2 "'--lr'" "${TRAIN[@]}" --out "$TMP/x0" --lr abc
# eval's classes are the adapter's: its --help offers no --labels, and it refuses one.
run eval --help
case "$out" in *--labels*) fail "eval --help lists --labels, which eval refuses" ;; *) pass ;; esac
expect_fail 2 "'--labels'" eval --model "$TMP/model" --adapter "$TMP/adapter" --data "$TMP/tiny.csv" --labels ham,spam
expect_fail 2 "has no classification head (score.weight): pass --adapter" eval --model "$TMP/model" --data "$TMP/tiny.csv"
expect_fail 2 "no message given" classify --model "$TMP/model" --adapter "$TMP/adapter"

# Inputs: missing or malformed, and nothing written.
expect_fail 2 "already exists; pass --force" "${TRAIN[@]}" --out "$TMP/adapter"
expect_fail 2 "no-such-model" train --model "$TMP/no-such-model" --train "$TMP/tiny.csv" --out "$TMP/x1"
expect_fail 2 "no-such.csv" train --model "$TMP/model" --train "$TMP/no-such.csv" --out "$TMP/x2"
printf 'Label,Text\n' > "$TMP/empty.csv"
expect_fail 2 "empty.csv" train --model "$TMP/model" --train "$TMP/empty.csv" --out "$TMP/x3"
printf 'Label,Text\nham,"unterminated\n' > "$TMP/bad.csv"
expect_fail 2 "bad.csv:2:" train --model "$TMP/model" --train "$TMP/bad.csv" --out "$TMP/x4"
: > "$TMP/a-file"
expect_fail 1 "a-file/sub" "${TRAIN[@]}" --out "$TMP/a-file/sub"
# --force replaces an adapter only, and says so before training, not after it.
expect_fail 2 "a-file exists and is not an adapter directory" "${TRAIN[@]}" --out "$TMP/a-file" --force
[ -z "$out" ] && pass || fail "train --out a-file --force trained before refusing: $out"
mkdir "$TMP/a-dir"
expect_fail 2 "a-dir is a directory; give a file name" "${TRAIN[@]}" --out "$TMP/x5" --plot "$TMP/a-dir"
[ -z "$out" ] && pass || fail "train --plot a-dir trained before refusing: $out"
expect_fail 1 "cannot create a temporary file beside $TMP/no-dir/p.svg" "${TRAIN[@]}" --out "$TMP/x8" --plot "$TMP/no-dir/p.svg"
[ -z "$out" ] && pass || fail "train --plot no-dir/p.svg trained before failing: $out"
cp "$TMP/tiny.csv" "$TMP/tiny-kept.csv"
expect_fail 2 "--log $TMP/tiny.csv is the --train file" "${TRAIN[@]}" --out "$TMP/x6" --log "$TMP/tiny.csv"
cmp -s "$TMP/tiny.csv" "$TMP/tiny-kept.csv" && pass || fail "train --log overwrote its --train file"
for d in x0 x1 x2 x3 x4 x5 x6 x8; do [ ! -e "$TMP/$d" ] && pass || fail "$d was written despite the error"; done
expect_fail 2 "--rank differs from the checkpoint" "${TRAIN[@]}" --resume "$TMP/adapter" --rank 4
# Other data: the checkpoint's row count against this file's (6 then), not this file's twice.
head -n 6 "$TMP/tiny.csv" > "$TMP/five.csv"
expect_fail 2 "five.csv is not the data the checkpoint in $TMP/adapter was trained on (6 rows then, 5 now)" \
  train --model "$TMP/model" --train "$TMP/five.csv" --batch-size 2 --threads 1 --resume "$TMP/adapter" --out "$TMP/x7"
# A hand-edited config whose alpha no train could write: refused, not NaN probabilities.
cp -r "$TMP/adapter" "$TMP/edited"
sed -i 's/"lora_alpha":[[:space:]]*16/"lora_alpha": 1e39/' "$TMP/edited/adapter_config.json"
expect_fail 2 'adapter_config.json: "lora_alpha" must be between -1e9 and 1e9, got 1e+39' classify --model "$TMP/model" --adapter "$TMP/edited" "hi"
# A PEFT config's r: a whole number in train's range, not truncated (2.5) or an out-of-memory (1e9).
cp -r "${LORAFIT_SOURCE_DIR:-.}/tests/fixtures/peft/seq_cls" "$TMP/peft"
sed -i 's/"r": 2,/"r": 1e9,/' "$TMP/peft/adapter_config.json"
expect_fail 2 'adapter_config.json: "r" must be between 1 and 65536' inspect --adapter "$TMP/peft"
sed -i 's/"r": 1e9,/"r": 2.5,/' "$TMP/peft/adapter_config.json"
expect_fail 2 'adapter_config.json: missing or invalid "r"' inspect --adapter "$TMP/peft"
expect_fail 2 "no such adapter directory" eval --model "$TMP/model" --adapter "$TMP/none" --data "$TMP/tiny.csv"

# An adapter refuses another base model: another shape, or the same shape with other weights.
run random-model --out "$TMP/wider" --n-layer 2 --n-embd 64 --n-head 2 --n-ctx 128 --seed 7
expect_fail 2 "n_embd = 32, but this model has n_embd = 64" classify --model "$TMP/wider" --adapter "$TMP/adapter" "hi"
expect_fail 2 "n_embd = 32, but this model has n_embd = 64" inspect --model "$TMP/wider" --adapter "$TMP/adapter"
run random-model --out "$TMP/other" --n-layer 2 --n-embd 32 --n-head 2 --n-ctx 128 --seed 8
expect_fail 2 "different base weights" eval --model "$TMP/other" --adapter "$TMP/adapter" --data "$TMP/tiny.csv"

finish
