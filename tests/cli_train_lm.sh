# cli_train_lm.sh - the language-model workflow end to end (issue 12): a tiny
# random GPT-2 of the real vocabulary learns the synthetic SQuAD copy task
# (tests/fixtures/lm, made by scripts/make-synthetic-squad.py: the answer is
# the word the context names) to a stated exact match on the dev set;
# perplexity falls with training; an interrupted LM run resumes bitwise; an
# adapter of the other task is refused; bad data and options give their
# messages and exit 2.
#
# LORAFIT_LM_EPOCHS raises the epochs (a longer run on a fast build); the
# default is small enough for the sanitizer build and still asserts learning.
. "$(dirname "$0")/lib.sh"
LM=${LORAFIT_SOURCE_DIR:-.}/tests/fixtures/lm
EPOCHS=${LORAFIT_LM_EPOCHS:-12}

run random-model --out "$TMP/model" --n-layer 2 --n-embd 64 --n-head 2 --n-ctx 128 --seed 1
[ "$rc" -eq 0 ] && pass || fail "random-model: $err"
TRAIN=(train --task causal-lm --model "$TMP/model" --train "$LM/synthetic_copy_train.json"
       --val "$LM/synthetic_copy_dev.json" --targets c_attn,c_proj --lr 5e-3 --threads 2 --log-every 0)
EVAL=(eval --model "$TMP/model" --threads 2 --data "$LM/synthetic_copy_dev.json")

# Before training (lr 0 leaves LoRA's B at zero: the base model): a random
# GPT-2's logits are near zero, so the loss is near ln(50257) = 10.825.
# Also the LM's default targets: c_attn and mlp.c_proj, PEFT-named.
run "${TRAIN[@]}" --lr 0 --epochs 1 --out "$TMP/untrained"
[ "$rc" -eq 0 ] && pass || fail "train --lr 0: exit $rc: $err"
run train --task causal-lm --model "$TMP/model" --train "$LM/synthetic_copy_dev.json" --epochs 1 --out "$TMP/defaults"
grep -q '"target_modules":	\["c_attn", "mlp.c_proj"\]' "$TMP/defaults/adapter_config.json" && pass ||
  fail "default LM targets: $(grep target_modules "$TMP/defaults/adapter_config.json")"
# --targets all: every Linear of the blocks, 4 per block (c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj)
run train --task causal-lm --model "$TMP/model" --train "$LM/synthetic_copy_dev.json" --epochs 1 --targets all \
  --log-every 0 --out "$TMP/all"
case "$err" in *"8 adapters of rank 8"*) pass ;; *) fail "--targets all: exit $rc: $err" ;; esac
grep -q '"target_modules":	\["c_attn", "c_fc", "c_proj"\]' "$TMP/all/adapter_config.json" && pass ||
  fail "--targets all: $(grep target_modules "$TMP/all/adapter_config.json")"
run generate --model "$TMP/model" --adapter "$TMP/all" --max-new-tokens 3 --json "Hello"
case "$rc $out" in '0 {"prompt":"Hello"'*) pass ;; *) fail "generate with every Linear adapted: exit $rc: $err" ;; esac
run "${EVAL[@]}" --task causal-lm --adapter "$TMP/untrained" --json
loss0=$(sed -n 's/.*"loss": \([0-9.]*\).*/\1/p' <<<"$out")
awk -v l="$loss0" 'BEGIN {exit !(l > 10.6 && l < 11.0)}' && pass || fail "untrained loss $loss0, want ~10.825: $out"
case "$out" in *'"examples": 64, "targets": 128, "kind": "squad", "mask_prompt": true}') pass ;;
  *) fail "eval --task causal-lm --json: $out" ;; esac

# The base model itself, without --adapter (its head tied to the token
# embedding): an adapter whose B is all zeros (lr 0) adds exactly nothing, so
# eval and generate must give byte for byte what they give with it.
untrained=$out
run "${EVAL[@]}" --task causal-lm --json
[ "$rc" -eq 0 ] && [ "$out" = "$untrained" ] && pass ||
  fail "eval --task causal-lm without --adapter: exit $rc: $out $err; with B = 0: $untrained"
run "${EVAL[@]}" --task qa --max-new-tokens 8 --adapter "$TMP/untrained" --json --predictions "$TMP/pred-b0.json"
untrained=$out
run "${EVAL[@]}" --task qa --max-new-tokens 8 --json --predictions "$TMP/pred-base.json"
[ "$rc" -eq 0 ] && [ "$out" = "$untrained" ] && pass ||
  fail "eval --task qa without --adapter: exit $rc: $out $err; with B = 0: $untrained"
cmp -s "$TMP/pred-b0.json" "$TMP/pred-base.json" && pass || fail "qa predictions without --adapter differ from B = 0's"
grep -q '"copy-2-[0-9]*": "[^"]' "$TMP/pred-base.json" && pass || fail "the base model answered nothing: $(head -c 200 "$TMP/pred-base.json")"
# --predictions naming the --data file would overwrite the questions with the answers.
cp "$LM/synthetic_copy_dev.json" "$TMP/dev.json"
expect_fail 2 "--predictions $TMP/dev.json is the --data file" eval --task qa --model "$TMP/model" \
  --data "$TMP/dev.json" --predictions "$TMP/dev.json" --max-new-tokens 1
cmp -s "$LM/synthetic_copy_dev.json" "$TMP/dev.json" && pass || fail "eval --predictions overwrote its --data"
# Two questions with one id: the {id: answer} file cannot hold both answers (it held the key twice).
printf '{"data":[{"paragraphs":[{"context":"c a b","qas":[\n{"id":"q1","question":"x","answers":[{"text":"a"}]},\n{"id":"q1","question":"y","answers":[{"text":"b"}]}]}]}]}\n' \
  > "$TMP/dup-ids.json"
expect_fail 2 'dup-ids.json:3:1: question id "q1" was already used at' eval --task qa --model "$TMP/model" \
  --data "$TMP/dup-ids.json" --predictions "$TMP/dup-pred.json" --max-new-tokens 1
[ ! -e "$TMP/dup-pred.json" ] && pass || fail "eval wrote predictions with a repeated id"
# ... and one in a missing directory fails before anything is read (here a model that is not there).
expect_fail 1 "cannot create a temporary file beside $TMP/no-dir/p.json" eval --task qa --model "$TMP/no-model" \
  --data "$LM/synthetic_copy_dev.json" --predictions "$TMP/no-dir/p.json"
run generate --model "$TMP/model" --adapter "$TMP/untrained" --json --max-new-tokens 16 --threads 2 "The secret word is"
untrained=$out
run generate --model "$TMP/model" --json --max-new-tokens 16 --threads 2 "The secret word is"
[ "$rc" -eq 0 ] && [ "$out" = "$untrained" ] && pass || fail "generate without --adapter: $out; with B = 0: $untrained"

# Training: per-token lines, perplexity after every epoch, a PEFT CAUSAL_LM adapter without a head.
run "${TRAIN[@]}" --epochs "$EPOCHS" --out "$TMP/adapter" --log "$TMP/log.jsonl" --plot "$TMP/plot.svg"
[ "$rc" -eq 0 ] && pass || fail "train: exit $rc: $err"
echo "$out" | tail -2
case "$err" in *"training 256 examples (squad, 512 target tokens), validation 64 examples (squad, 128 target tokens); prompts masked; 6 adapters"*) pass ;;
  *) fail "start line: $err" ;; esac
case "$out" in *"Epoch 1 Finished | Avg Loss: "*" | Token acc: "*"% | Time: "*) pass ;; *) fail "epoch line: $out" ;; esac
[ "$(grep -c '^Validation | Loss: [0-9.]* | Perplexity: [0-9.]* | Token acc: [0-9.]*%$' <<<"$out")" -eq "$EPOCHS" ] &&
  pass || fail "want $EPOCHS validation lines with perplexity: $out"
[ "$(wc -l < "$TMP/log.jsonl")" -eq $((EPOCHS * 32)) ] && pass || fail "log: $(wc -l < "$TMP/log.jsonl") steps"
grep -q '<svg' "$TMP/plot.svg" && pass || fail "no SVG plot"
cfg=$(cat "$TMP/adapter/adapter_config.json")
for want in '"task_type":	"CAUSAL_LM"' '"naming":	"peft"' '"target_modules":	["c_attn", "c_proj"]' \
            '"mask_prompt":	true' '"modules_to_save":	null'; do
  case "$cfg" in *"$want"*) pass ;; *) fail "adapter_config.json lacks $want" ;; esac
done
grep -q 'score' "$TMP/adapter/adapter_model.safetensors" && fail "the LM adapter saved a head" || pass

# Learning: exact match on the 64 dev questions. With the attention's output
# projection adapted too (c_attn, c_proj: attn.c_proj and mlp.c_proj) the
# copy is learnt steadily: dev token
# accuracy 99-100% after 12 epochs for five seeds (EM 98-100%); 80% leaves
# margin for other compilers' rounding. And the perplexity fell.
run "${EVAL[@]}" --task qa --adapter "$TMP/adapter" --predictions "$TMP/pred.json"
[ "$rc" -eq 0 ] && pass || fail "eval --task qa: exit $rc: $err"
echo "$out" | head -2
em=$(sed -n 's/^Exact match: \([0-9.]*\)%$/\1/p' <<<"$out")
awk -v e="$em" 'BEGIN {exit !(e >= 80)}' && pass || fail "exact match $em% < 80%: $out"
case "$out" in *"(64 questions)"*) pass ;; *) fail "question count: $out" ;; esac
[ "$(grep -o '"copy-2-[0-9]*": "' "$TMP/pred.json" | wc -l)" -eq 64 ] && pass || fail "predictions: $(head -c 200 "$TMP/pred.json")"
run "${EVAL[@]}" --task causal-lm --adapter "$TMP/adapter" --json
loss1=$(sed -n 's/.*"loss": \([0-9.]*\).*/\1/p' <<<"$out")
awk -v a="$loss0" -v b="$loss1" 'BEGIN {exit !(b < a - 0.5)}' && pass || fail "loss per token $loss0 -> $loss1"
echo "loss per token on dev: $loss0 untrained, $loss1 trained"

# generate with the adapter answers a question in the training prompt format.
prompt=$'Answer the question using the context.\n\nContext: The secret word is candle.\nQuestion: What is the secret word?\nAnswer:'
run generate --model "$TMP/model" --adapter "$TMP/adapter" --max-new-tokens 4 "$prompt"
[ "$out" = " candle" ] && pass || fail "generate answered '$out', want ' candle'"
run generate --model "$TMP/model" --adapter "$TMP/adapter" --max-new-tokens 4 --json "$prompt"
case "$out" in *',50256],"text":" candle","stop_reason":"endoftext"}') pass ;;
  *) fail "generate --json: the answer should end at <|endoftext|>: $out" ;; esac

# Resume: an LM run stopped by SIGINT and resumed is bitwise the uninterrupted one.
interrupt_after "$TMP/log2.jsonl" 20 "${TRAIN[@]}" --epochs 1000 --out "$TMP/resumed" --log "$TMP/log2.jsonl"
[ "$rc" -eq 130 ] && pass || fail "interrupted train exited $rc, want 130: $err"
epochs=$(($(wc -l < "$TMP/log2.jsonl") / 32 + 1))
run "${TRAIN[@]}" --epochs "$epochs" --out "$TMP/reference"
[ "$rc" -eq 0 ] && pass || fail "uninterrupted run: exit $rc: $err"
run "${TRAIN[@]}" --resume "$TMP/resumed" --epochs "$epochs"
[ "$rc" -eq 0 ] && pass || fail "resume: exit $rc: $err"
for f in adapter_model.safetensors training_state.safetensors adapter_config.json; do
  cmp -s "$TMP/reference/$f" "$TMP/resumed/$f" && pass || fail "resumed $f differs from the uninterrupted run's"
done
expect_fail 2 "--no-mask-prompt differs from the checkpoint" "${TRAIN[@]}" --resume "$TMP/resumed" --no-mask-prompt

# The other task's adapter: classify and eval refuse an LM adapter, generate a classifier's.
expect_fail 2 "is an adapter for causal language modelling" classify --model "$TMP/model" --adapter "$TMP/adapter" "hi"
expect_fail 2 "is an adapter for causal language modelling" eval --model "$TMP/model" --adapter "$TMP/adapter" \
  --data "${LORAFIT_SOURCE_DIR:-.}/tests/fixtures/csv/labs_train.csv"
run train --model "$TMP/model" --train "${LORAFIT_SOURCE_DIR:-.}/tests/fixtures/csv/labs_train.csv" --batch-size 2 \
  --out "$TMP/classifier" --log-every 0
[ "$rc" -eq 0 ] && pass || fail "classifier train: exit $rc: $err"
expect_fail 2 "is an adapter for classification, not for causal" generate --model "$TMP/model" --adapter "$TMP/classifier" "hi"
expect_fail 2 "is an adapter for classification, not for causal" "${EVAL[@]}" --task qa --adapter "$TMP/classifier"

# Bad data: each error names the place and exits 2.
T=(train --task causal-lm --model "$TMP/model" --out "$TMP/bad" --log-every 0)
expect_fail 2 "err_malformed.json:3:" "${T[@]}" --train "$LM/err_malformed.json"
expect_fail 2 "err_missing_field.jsonl:3: " "${T[@]}" --train "$LM/err_missing_field.jsonl"
case "$err" in *completion*) pass ;; *) fail "missing field not named: $err" ;; esac
# text.txt is one window of 2 tokens: the unit is the LM's, not the classifier's rows
expect_fail 2 "text.txt has 1 window, fewer than one batch of 2" "${T[@]}" --train "$LM/text.txt" --batch-size 2
expect_fail 2 "text.txt is plain text: it has no prompt for --mask-prompt" "${T[@]}" --train "$LM/text.txt" --mask-prompt
expect_fail 2 "longer than --max-length" "${T[@]}" --train "$LM/synthetic_copy_train.json" --max-length 2
expect_fail 2 "--max-length 200 is longer than the model's context (128 tokens)" "${T[@]}" \
  --train "$LM/synthetic_copy_train.json" --max-length 200
expect_fail 2 "does not fit the model's context of 128" generate --model "$TMP/model" \
  "$(printf 'word %.0s' $(seq 1 200))"
expect_fail 2 "holds prompt-completion records; --task qa needs SQuAD JSON" "${EVAL[@]/synthetic_copy_dev.json/prompt_completion.jsonl}" \
  --task qa --adapter "$TMP/adapter"

# Options of the other task are refused.
expect_fail 2 "--labels is for classification, not for --task causal-lm" "${T[@]}" --train "$LM/text.txt" --labels a,b
expect_fail 2 "--pool is for classification" "${T[@]}" --train "$LM/text.txt" --pool last-position
expect_fail 2 "--mask-prompt is for --task causal-lm" train --model "$TMP/model" --train x.csv --out "$TMP/bad" --mask-prompt
expect_fail 2 "--targets as c_attn" "${T[@]}" --train "$LM/text.txt" --targets W_query
expect_fail 2 "--temperature is for --task qa" "${EVAL[@]}" --task causal-lm --adapter "$TMP/adapter" --temperature 1
expect_fail 2 "--format is for classification data" "${EVAL[@]}" --task qa --adapter "$TMP/adapter" --format csv

finish
