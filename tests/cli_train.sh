# cli_train.sh - the labs' workflow end to end on a small random GPT-2 and the
# real SMS data (issue 6): split, train one epoch, eval, classify; the loss
# falls, accuracy clearly beats the 50% of a balanced test set, classify
# agrees with eval, and an interrupted run resumes bitwise. The error cases,
# which need no SMS data, are in cli_train_errors.sh.
. "$(dirname "$0")/lib.sh"
require_sms

# A GPT-2 of the published vocabulary but tiny width, so one epoch takes seconds.
run random-model --out "$TMP/model" --n-layer 2 --n-embd 32 --n-head 2 --n-ctx 128 --seed 7
[ "$rc" -eq 0 ] && pass || fail "random-model: $err"
run split "$SMS" --out-dir "$TMP/data" --balance
[ "$rc" -eq 0 ] && pass || fail "split: $err"

TRAIN=(train --model "$TMP/model" --train "$TMP/data/train.csv" --val "$TMP/data/validation.csv"
       --lr 2e-3 --threads 1 --log-every 20)
run "${TRAIN[@]}" --out "$TMP/adapter" --log "$TMP/log.jsonl" --plot "$TMP/plot.svg"
[ "$rc" -eq 0 ] && pass || fail "train: exit $rc: $err"
case "$out" in *"Epoch 1 Finished | Avg Loss: "*"| Acc: "*"% | Time: "*) pass ;; *) fail "no epoch summary: $out" ;; esac
case "$out" in *"Epoch 1 | Batch 0 | Loss: "*) pass ;; *) fail "no batch line: $out" ;; esac
case "$out" in *"Validation | Loss: "*) pass ;; *) fail "no validation line: $out" ;; esac
for f in adapter_config.json adapter_model.safetensors training_state.safetensors; do
  [ -s "$TMP/adapter/$f" ] && pass || fail "adapter file $f missing"
done
grep -q '<svg' "$TMP/plot.svg" && pass || fail "no SVG plot"

# The loss falls: the mean of the last 20 steps is below that of the first 20.
steps=$(wc -l < "$TMP/log.jsonl")
[ "$steps" -eq 130 ] && pass || fail "log has $steps steps, want 130 (1045 rows / 8, last batch dropped)"
read -r first last < <(awk -F'"loss": ' '{split($2, a, ","); l[NR] = a[1]}
  END {for (i = 1; i <= 20; i++) {f += l[i]; t += l[NR - 20 + i]}; print f / 20, t / 20}' "$TMP/log.jsonl")
echo "training loss: first 20 steps $first, last 20 steps $last"
awk -v f="$first" -v t="$last" 'BEGIN {exit !(t < f - 0.05)}' && pass || fail "loss did not fall: $first -> $last"

# Eval: accuracy clearly above the balanced test set's 50%.
run eval --model "$TMP/model" --adapter "$TMP/adapter" --data "$TMP/data/test.csv" --threads 1
[ "$rc" -eq 0 ] && pass || fail "eval: $err"
echo "$out" | head -1
acc=$(echo "$out" | sed -n 's/^Test accuracy: \([0-9.]*\)%$/\1/p')
awk -v a="$acc" 'BEGIN {exit !(a >= 65)}' && pass || fail "test accuracy $acc% is not clearly above 50%"
matrix=$(echo "$out" | awk '/^Confusion matrix/ {m = 1; next} m && NF == 3 && $1 != "" {print $2, $3}' | tail -2 | tr '\n' ' ')

# Classify agrees with eval: the same confusion matrix from the test texts.
# split writes "label,text" with RFC 4180 quoting and SMS texts hold no newline.
awk 'NR > 1 {i = index($0, ","); lab = substr($0, 1, i - 1); t = substr($0, i + 1)
  if (t ~ /^"/) {t = substr(t, 2, length(t) - 2); gsub(/""/, "\"", t)}
  print lab > "'"$TMP"'/labels"; print t}' "$TMP/data/test.csv" > "$TMP/texts"
"$LORAFIT" classify --model "$TMP/model" --adapter "$TMP/adapter" --threads 1 - < "$TMP/texts" > "$TMP/pred"
[ "$(wc -l < "$TMP/pred")" -eq 300 ] && pass || fail "classify printed $(wc -l < "$TMP/pred") lines for 300 texts"
cmatrix=$(paste -d' ' "$TMP/labels" "$TMP/pred" | awk '{c[$1 " " $2]++}
  END {printf "%d %d %d %d ", c["ham ham"], c["ham spam"], c["spam ham"], c["spam spam"]}')
[ "$cmatrix" = "$matrix" ] && pass || fail "classify's confusion matrix '$cmatrix' differs from eval's '$matrix'"
grep -qE '^(ham|spam) \(confidence: (0\.[5-9][0-9]|1\.00)\)$' "$TMP/pred" && pass || fail "classify output format: $(head -2 "$TMP/pred")"

# Resume: stopped by SIGINT and resumed, the adapter is bitwise the
# uninterrupted one's (same seed, same thread count). The interrupted run asks
# for 1000 epochs so that it is surely still running when the signal comes;
# the resume then ends it with the epoch that was in progress, and is compared
# with an uninterrupted run of that many epochs (usually the one above).
interrupt_after "$TMP/log2.jsonl" 20 "${TRAIN[@]}" --epochs 1000 --out "$TMP/resumed" --log "$TMP/log2.jsonl"
[ "$rc" -eq 130 ] && pass || fail "interrupted train exited $rc, want 130: $err"
case "$err" in *"checkpoint saved to"*) pass ;; *) fail "no checkpoint message: $err" ;; esac
# The hint resumes the run as it was going: into the same log.
case "$err" in *"Resume with: lorafit train "*" --log $TMP/log2.jsonl --resume $TMP/resumed"*) pass ;;
  *) fail "the resume hint drops --log: $err" ;; esac
stopped_at=$(wc -l < "$TMP/log2.jsonl")
epochs=$((stopped_at / steps + 1))
reference=$TMP/adapter
if [ "$epochs" -gt 1 ]; then
  reference=$TMP/reference
  run "${TRAIN[@]}" --epochs "$epochs" --out "$reference" --log-every 0
  [ "$rc" -eq 0 ] && pass || fail "uninterrupted $epochs-epoch run: exit $rc: $err"
fi
run "${TRAIN[@]}" --resume "$TMP/resumed" --epochs "$epochs" --log "$TMP/log2.jsonl"
[ "$rc" -eq 0 ] && pass || fail "resume: exit $rc: $err"
echo "interrupted after $stopped_at steps, resumed to $(wc -l < "$TMP/log2.jsonl") ($epochs epoch(s))"
for f in adapter_model.safetensors training_state.safetensors adapter_config.json; do
  cmp -s "$reference/$f" "$TMP/resumed/$f" && pass || fail "resumed $f differs from the uninterrupted run's"
done

# The labs' pooling: every text padded to the longest training text, capped
# at the model's 128-token context (one SMS is longer: cut and counted).
run "${TRAIN[@]}" --pool last-position --out "$TMP/padded" --log-every 0
[ "$rc" -eq 0 ] && pass || fail "train --pool last-position: exit $rc: $err"
case "$err" in *"1 training and 0 validation texts are longer than 128 tokens"*) pass ;;
  *) fail "no truncation count: $err" ;; esac
grep -q '"max_length":	128' "$TMP/padded/adapter_config.json" && pass || fail "padded length not stored"
run eval --model "$TMP/model" --adapter "$TMP/padded" --data "$TMP/data/test.csv" --threads 1
acc=$(echo "$out" | sed -n 's/^Test accuracy: \([0-9.]*\)%$/\1/p')
echo "last-position test accuracy: $acc%"
awk -v a="$acc" 'BEGIN {exit !(a >= 65)}' && pass || fail "last-position test accuracy $acc%"

finish
