# cli_quantize.sh - `lorafit quantize` and --base-dtype end to end on a
# small random GPT-2 and the SMS data: the error table (one row per block
# matrix and an overall row, relative errors in the range the formats
# allow: int8's step amax/127 gives ~0.6% on Gaussian weights, NF4's 16
# levels ~9%), training on an nf4 base records it in the adapter (an fp32
# adapter does not), a quantized file gives the same results as quantizing
# on opening, an adapter used on another dtype warns naming both, and
# misuse is refused. Damaged quantized files: tests/test_quant_file.c.
. "$(dirname "$0")/lib.sh"
require_sms

run random-model --out "$TMP/model" --n-layer 2 --n-embd 64 --n-head 2 --n-ctx 128 --seed 3
[ "$rc" -eq 0 ] && pass || fail "random-model: $err"
run split "$SMS" --out-dir "$TMP/data" --balance
[ "$rc" -eq 0 ] && pass || fail "split: $err"

# relative Frobenius error of the "all" row within [lo, hi]
check_table() {
  local dtype=$1 lo=$2 hi=$3
  run quantize --model "$TMP/model" --base-dtype "$dtype" --out "$TMP/q-$dtype" --threads 2
  [ "$rc" -eq 0 ] && pass || { fail "quantize $dtype: $err"; return; }
  local rows
  rows=$(printf '%s\n' "$out" | grep -c '^h\.[01]\.\(attn\.c_attn\|attn\.c_proj\|mlp\.c_fc\|mlp\.c_proj\)\.weight ')
  [ "$rows" -eq 8 ] && pass || fail "quantize $dtype: $rows matrix rows, want 8: $out"
  printf '%s\n' "$out" | awk -v lo="$lo" -v hi="$hi" '$1 == "all" { ok = ($4 >= lo && $4 <= hi) } END { exit !ok }' &&
    pass || fail "quantize $dtype: overall relative error outside [$lo, $hi]: $out"
  [ -s "$TMP/q-$dtype/config.json" ] && pass || fail "quantize $dtype: no config.json"
}
check_table nf4 0.05 0.15
check_table int8 0.003 0.01

TRAIN=(train --model "$TMP/model" --train "$TMP/data/train.csv" --lr 2e-3 --threads 2 --log-every 0)
run "${TRAIN[@]}" --out "$TMP/ad-nf4" --base-dtype nf4
[ "$rc" -eq 0 ] && pass || fail "train nf4: $err"
grep -q '"base_dtype":[[:space:]]*"nf4"' "$TMP/ad-nf4/adapter_config.json" && pass || fail "nf4 adapter lacks base_dtype"
run "${TRAIN[@]}" --out "$TMP/ad-fp32" --epochs 1
[ "$rc" -eq 0 ] && pass || fail "train fp32: $err"
grep -q base_dtype "$TMP/ad-fp32/adapter_config.json" && fail "fp32 adapter records base_dtype" || pass

# activation recomputation (on by default for nf4 and int8) changes no bit: losses and adapter bytes
# with and without it, on the quantized base and the fp32 one
for dtype in nf4 fp32; do
  for rc_opt in --recompute --no-recompute; do
    run "${TRAIN[@]}" --out "$TMP/ad-$dtype$rc_opt" --base-dtype "$dtype" --log-every 1 --lora-dropout 0.1 $rc_opt
    [ "$rc" -eq 0 ] && pass || fail "train $dtype $rc_opt: $err"
    printf '%s\n' "$out" | grep 'Batch .* Loss: ' >"$TMP/out-$dtype$rc_opt"
  done
  [ -s "$TMP/out-$dtype--recompute" ] && cmp -s "$TMP/out-$dtype--recompute" "$TMP/out-$dtype--no-recompute" &&
    pass || fail "$dtype: the losses differ with recomputation"
  cmp -s "$TMP/ad-$dtype--recompute/adapter_model.safetensors" "$TMP/ad-$dtype--no-recompute/adapter_model.safetensors" &&
    pass || fail "$dtype: the adapter differs with recomputation"
done

# the quantized file and quantizing on opening: the same bits, so the same output
EVAL=(eval --adapter "$TMP/ad-nf4" --data "$TMP/data/test.csv" --threads 2 --json)
run "${EVAL[@]}" --model "$TMP/model" --base-dtype nf4
on_open=$out
[ "$rc" -eq 0 ] && [ -z "$err" ] && pass || fail "eval --base-dtype nf4: $rc $err"
run "${EVAL[@]}" --model "$TMP/q-nf4"
[ "$rc" -eq 0 ] && [ "$out" = "$on_open" ] && pass || fail "eval on the nf4 file differs: $out vs $on_open ($err)"
run "${EVAL[@]}" --model "$TMP/model"
[ "$rc" -eq 0 ] && pass || fail "eval fp32: $err"
case "$err" in "lorafit eval: warning: $TMP/ad-nf4 was trained with --base-dtype nf4; using it with fp32"*) pass ;; *) fail "no warning: $err" ;; esac
run classify --model "$TMP/q-int8" --adapter "$TMP/ad-nf4" "You won a prize"
[ "$rc" -eq 0 ] && pass || fail "classify int8: $err"
case "$err" in "lorafit classify: warning: "*"nf4; using it with int8"*) pass ;; *) fail "no warning: $err" ;; esac

# merging into a quantized base dequantizes it, says so, and the merged model
# classifies as the quantized base with its adapter does
run merge --model "$TMP/q-nf4" --adapter "$TMP/ad-nf4" --out "$TMP/merged-nf4"
[ "$rc" -eq 0 ] && pass || fail "merge into nf4: $err"
case "$err" in *"holds its blocks in nf4; they were dequantized"*) pass ;; *) fail "merge: no dequantize note: $err" ;; esac
run classify --model "$TMP/q-nf4" --adapter "$TMP/ad-nf4" --json "You won a prize" "see you at 6"
with_adapter=$out
run classify --model "$TMP/merged-nf4" --json "You won a prize" "see you at 6"
[ "$rc" -eq 0 ] && [ "$out" = "$with_adapter" ] && pass || fail "merged nf4 classifies differently: $out vs $with_adapter ($err)"

expect_fail 2 "holds its weights in nf4; --base-dtype int8 needs the fp32 model" \
  eval --model "$TMP/q-nf4" --adapter "$TMP/ad-nf4" --data "$TMP/data/test.csv" --base-dtype int8
expect_fail 2 "already quantized (nf4)" quantize --model "$TMP/q-nf4" --base-dtype int8 --out "$TMP/x"
expect_fail 2 "the model's own directory" quantize --model "$TMP/model" --base-dtype nf4 --out "$TMP/model"
expect_fail 2 "already exists" quantize --model "$TMP/model" --base-dtype nf4 --out "$TMP/q-nf4"
expect_fail 2 "expects one of nf4, int8" quantize --model "$TMP/model" --base-dtype fp32 --out "$TMP/x"
finish
