# cli_merge.sh - `lorafit merge` end to end: a trained adapter merged into a
# tiny random GPT-2 classifies every message as the adapter does, without
# --adapter (probabilities printed to 6 decimals agree within 1e-5); the
# output directory holds what a Hugging Face loader needs; a merge over an
# existing directory needs --force; bad input exits 2 naming it.
. "$(dirname "$0")/lib.sh"

run random-model --out "$TMP/model" --n-layer 2 --n-embd 32 --n-head 2 --n-ctx 128 --seed 3
[ "$rc" -eq 0 ] && pass || fail "random-model: $err"
printf '%s\n' 'Label,Text' 'ham,Are we still on for lunch?' 'spam,"WINNER! Claim your prize now, call 0900"' \
  'ham,See you at the station at six' 'spam,"Free entry to win a holiday, text WIN to 80082"' > "$TMP/tiny.csv"
run train --model "$TMP/model" --train "$TMP/tiny.csv" --batch-size 2 --threads 1 --log-every 0 --lr 1e-2 \
  --epochs 3 --out "$TMP/adapter"
[ "$rc" -eq 0 ] && pass || fail "train: $err"

run merge --model "$TMP/model" --adapter "$TMP/adapter" --out "$TMP/merged"
[ "$rc" -eq 0 ] && pass || fail "merge: exit $rc: $err"
for f in model.safetensors config.json; do [ -s "$TMP/merged/$f" ] && pass || fail "merged/$f missing"; done
grep -q '"GPT2ForSequenceClassification"' "$TMP/merged/config.json" && pass || fail "config.json: architectures"
grep -q '"num_labels":[[:space:]]*2' "$TMP/merged/config.json" && pass || fail "config.json: num_labels"

MSGS=("You won a prize! Call now" "hi mom, see you at six" "URGENT cash reward, text WIN")
run classify --model "$TMP/model" --adapter "$TMP/adapter" --json --threads 1 "${MSGS[@]}"
want=$out
run classify --model "$TMP/merged" --json --threads 1 "${MSGS[@]}"
got=$out
[ "$rc" -eq 0 ] && pass || fail "classify the merged model: exit $rc: $err"
# every number of the two outputs, side by side
paste <(printf '%s\n' "$want" | grep -o '[0-9]\.[0-9]*') <(printf '%s\n' "$got" | grep -o '[0-9]\.[0-9]*') |
  awk '{ n++; d = $1 - $2; if (d < 0) d = -d; if (d > 1e-5) bad++ } END { exit !(n >= 9 && !bad) }' &&
  pass || fail "merged probabilities differ"$'\n'"adapter: $want"$'\n'"merged:  $got"
[ "$(printf '%s\n' "$want" | grep -o '"label":"[a-z]*"')" = "$(printf '%s\n' "$got" | grep -o '"label":"[a-z]*"')" ] &&
  pass || fail "merged labels differ"

run merge --model "$TMP/model" --adapter "$TMP/adapter" --out "$TMP/merged-bf16" --dtype bf16
[ "$rc" -eq 0 ] && pass || fail "merge --dtype bf16: $err"
expect_fail 2 "already exists; pass --force" merge --model "$TMP/model" --adapter "$TMP/adapter" --out "$TMP/merged"
run merge --model "$TMP/model" --adapter "$TMP/adapter" --out "$TMP/merged" --force
[ "$rc" -eq 0 ] && pass || fail "merge --force: $err"
expect_fail 2 "is not a model directory" merge --model "$TMP/model" --adapter "$TMP/adapter" --out "$TMP/adapter" --force
# The base's own directory, however spelled: --force must not replace the base with the merge.
cp "$TMP/model/model.safetensors" "$TMP/base-copy.safetensors"
expect_fail 2 "is the model's own directory" merge --model "$TMP/model" --adapter "$TMP/adapter" --out "$TMP/model" --force
cmp -s "$TMP/model/model.safetensors" "$TMP/base-copy.safetensors" && pass || fail "merge --force replaced its base"
expect_fail 2 "'--dtype'" merge --model "$TMP/model" --adapter "$TMP/adapter" --out "$TMP/m2" --dtype f8
expect_fail 2 "no-such-adapter" merge --model "$TMP/model" --adapter "$TMP/no-such-adapter" --out "$TMP/m3"
[ ! -e "$TMP/m3" ] && pass || fail "a failed merge left $TMP/m3"
finish
