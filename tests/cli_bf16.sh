# cli_bf16.sh - --base-dtype bf16 (and its alias --precision) end to end.
#
# What `lorafit --version --verbose` says of oneDNN and bf16 must match
# /proc/cpuinfo (usable only with avx512_bf16 or amx_bf16). Where bf16 is
# unusable, train, eval, classify, generate and bench refuse it with exit 2
# and a message naming the CPU's vector features; where it is usable, they
# run on oneDNN. Both cases then run the same workflow on the reference GEMMs
# (LORAFIT_BF16_BACKEND=reference, the testing aid): the adapter records
# base_dtype bf16, recomputation (on by default for bf16) changes no bit,
# the adapter used on fp32 warns naming both dtypes, and a wrong value of
# the variable is refused. And int8 / nf4's tiles (engine/quant_tiles.h):
# bench says bf16 tiles on oneDNN where bf16 is usable, fp32 tiles where
# not, bf16 on the reference with the variable, under which an nf4 training
# is bitwise the same with and without recomputation and not fp32 tiles'.
. "$(dirname "$0")/lib.sh"
require_sms

run random-model --out "$TMP/model" --n-layer 2 --n-embd 64 --n-head 2 --n-ctx 128 --seed 5
[ "$rc" -eq 0 ] && pass || fail "random-model: $err"
run split "$SMS" --out-dir "$TMP/data" --balance
[ "$rc" -eq 0 ] && pass || fail "split: $err"
head -81 "$TMP/data/train.csv" >"$TMP/train80.csv"
head -41 "$TMP/data/test.csv" >"$TMP/test40.csv"

run --version --verbose
dnnl=$(printf '%s\n' "$out" | grep -m1 '^oneDNN: ' || true)
[ -n "$dnnl" ] && pass || fail "--version --verbose: no oneDNN line: $out"
usable=0
case "$dnnl" in *"--base-dtype bf16 runs on"*) usable=1 ;; esac
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*: //')
if [ -n "$flags" ]; then
  cpu_bf16=0
  [[ " $flags " == *" avx512_bf16 "* || " $flags " == *" amx_bf16 "* ]] && cpu_bf16=1
  if [ "$cpu_bf16" -eq 0 ]; then
    [ "$usable" -eq 0 ] && pass || fail "no avx512_bf16 nor amx_bf16 in /proc/cpuinfo, yet: $dnnl"
  elif [[ "$dnnl" == *"built in; "* || "$dnnl" == "oneDNN: not built in"* ]]; then
    pass # a CPU with bf16 and a lorafit without a loadable oneDNN: unusable, rightly
  else
    [ "$usable" -eq 1 ] && pass || fail "the CPU has bf16 and oneDNN is there, yet: $dnnl"
  fi
fi
echo "oneDNN line: $dnnl"

TRAIN=(train --model "$TMP/model" --train "$TMP/train80.csv" --lr 2e-3 --threads 2 --log-every 1 --epochs 1
       --max-length 48)
if [ "$usable" -eq 0 ]; then
  for opt in --base-dtype --precision; do
    expect_fail 2 "--base-dtype bf16 " "${TRAIN[@]}" --out "$TMP/ad-x" $opt bf16
  done
  case "$err" in *"has SSE"* | *"has none"* | *"without oneDNN"*) pass ;; *) fail "no CPU features: $err" ;; esac
  [ -e "$TMP/ad-x" ] && fail "a refused run wrote its output" || pass
  run "${TRAIN[@]}" --out "$TMP/ad-fp32"
  [ "$rc" -eq 0 ] && pass || fail "train fp32: $err"
  expect_fail 2 "--base-dtype bf16 " eval --model "$TMP/model" --adapter "$TMP/ad-fp32" --data "$TMP/test40.csv" \
    --base-dtype bf16
  expect_fail 2 "--base-dtype bf16 " classify --model "$TMP/model" --adapter "$TMP/ad-fp32" --precision bf16 "hi"
  expect_fail 2 "--base-dtype bf16 " generate --model "$TMP/model" --base-dtype bf16 --max-new-tokens 2 "hi"
  expect_fail 2 "--base-dtype bf16 " bench --quick --base-dtype bf16 --cases train-last
else
  run "${TRAIN[@]}" --out "$TMP/ad-dnnl" --precision bf16
  [ "$rc" -eq 0 ] && pass || fail "train bf16 on oneDNN: $err"
  grep -q '"base_dtype":[[:space:]]*"bf16"' "$TMP/ad-dnnl/adapter_config.json" && pass || fail "no base_dtype bf16"
  run eval --model "$TMP/model" --adapter "$TMP/ad-dnnl" --data "$TMP/test40.csv" --base-dtype bf16 --threads 2
  [ "$rc" -eq 0 ] && [[ "$err" != *warning* ]] && pass || fail "eval bf16 on oneDNN: $rc $err"
  run classify --model "$TMP/model" --adapter "$TMP/ad-dnnl" --base-dtype bf16 "You won a prize"
  [ "$rc" -eq 0 ] && pass || fail "classify bf16 on oneDNN: $err"
  run generate --model "$TMP/model" --base-dtype bf16 --max-new-tokens 4 "hello"
  [ "$rc" -eq 0 ] && pass || fail "generate bf16 on oneDNN: $err"
  expect_contains "base: block matrices in bf16" bench --quick --base-dtype bf16 --cases train-last,infer-last
fi

# int8 and nf4 GEMMs: bf16 tiles on oneDNN where bf16 is usable, fp32 tiles elsewhere; the same for a
# file `lorafit quantize` wrote
tiles="fp32 tiles"
[ "$usable" -eq 1 ] && tiles="bf16 tiles on oneDNN"
expect_contains "block matrices in nf4 (0.05 MB), their GEMMs in $tiles," bench --quick --base-dtype nf4 \
  --cases train-last --repeat 1
run quantize --model "$TMP/model" --base-dtype int8 --out "$TMP/q-int8"
[ "$rc" -eq 0 ] && pass || fail "quantize int8: $err"
expect_contains "block matrices in int8 (" bench --model "$TMP/q-int8" --cases train-last --repeat 1
case "$out" in *"their GEMMs in $tiles,"*) pass ;; *) fail "int8 file: not $tiles: $out" ;; esac
expect_contains '"base_dtype":' bench --quick --cases train-last --repeat 1 --json
case "$out" in *quant_tiles*) fail "an fp32 base reports tiles: $out" ;; *) pass ;; esac

# The reference GEMMs, on any CPU.
export LORAFIT_BF16_BACKEND=reference
for rc_opt in --recompute --no-recompute; do
  run "${TRAIN[@]}" --out "$TMP/ad$rc_opt" --base-dtype bf16 --lora-dropout 0.1 $rc_opt
  [ "$rc" -eq 0 ] && pass || fail "train bf16 (reference) $rc_opt: $err"
  printf '%s\n' "$out" | grep 'Batch .* Loss: ' >"$TMP/losses$rc_opt"
done
[ -s "$TMP/losses--recompute" ] && cmp -s "$TMP/losses--recompute" "$TMP/losses--no-recompute" && pass ||
  fail "bf16: the losses differ with recomputation"
cmp -s "$TMP/ad--recompute/adapter_model.safetensors" "$TMP/ad--no-recompute/adapter_model.safetensors" && pass ||
  fail "bf16: the adapter differs with recomputation"
grep -q '"base_dtype":[[:space:]]*"bf16"' "$TMP/ad--recompute/adapter_config.json" && pass ||
  fail "the bf16 adapter lacks base_dtype"
run "${TRAIN[@]}" --out "$TMP/ad-default" --base-dtype bf16 --lora-dropout 0.1
cmp -s "$TMP/ad-default/adapter_model.safetensors" "$TMP/ad--recompute/adapter_model.safetensors" && pass ||
  fail "bf16 without --recompute is not the run with it"

EVAL=(eval --model "$TMP/model" --adapter "$TMP/ad--recompute" --data "$TMP/test40.csv" --threads 2 --json)
run "${EVAL[@]}" --base-dtype bf16
bf16_eval=$out
[ "$rc" -eq 0 ] && [[ "$err" != *warning* ]] && pass || fail "eval bf16 (reference): $rc $err"
run "${EVAL[@]}"
[ "$rc" -eq 0 ] && pass || fail "eval fp32: $err"
case "$err" in "lorafit eval: warning: "*"trained with --base-dtype bf16; using it with fp32"*) pass ;; *) fail "no warning: $err" ;; esac
[ -n "$bf16_eval" ] && [ "$out" != "$bf16_eval" ] && pass || fail "eval in bf16 and fp32 agree to the bit: $out"
run classify --model "$TMP/model" --adapter "$TMP/ad--recompute" --precision bf16 "You won a prize"
[ "$rc" -eq 0 ] && [[ "$err" != *warning* ]] && pass || fail "classify bf16 (reference): $err"
run generate --model "$TMP/model" --base-dtype bf16 --max-new-tokens 4 "hello"
[ "$rc" -eq 0 ] && pass || fail "generate bf16 (reference): $err"
expect_contains "base: block matrices in bf16" bench --quick --base-dtype bf16 --cases train-last

# int8 and nf4 in bf16 tiles on the reference: said so, recomputation changes no bit, and the
# rounding happens (not fp32 tiles' adapter)
run bench --quick --base-dtype nf4 --cases train-last --repeat 1 --json
[ "$rc" -eq 0 ] && grep -q '"quant_tiles":[[:space:]]*"bf16-reference"' <<<"$out" && pass ||
  fail "nf4 on the reference: no quant_tiles bf16-reference: $rc $out"
expect_contains "their GEMMs in bf16 tiles on the reference," bench --model "$TMP/q-int8" --cases train-last --repeat 1
for rc_opt in --recompute --no-recompute; do
  run "${TRAIN[@]}" --out "$TMP/nf4$rc_opt" --base-dtype nf4 $rc_opt
  [ "$rc" -eq 0 ] && pass || fail "train nf4 (bf16 tiles, reference) $rc_opt: $err"
done
cmp -s "$TMP/nf4--recompute/adapter_model.safetensors" "$TMP/nf4--no-recompute/adapter_model.safetensors" && pass ||
  fail "nf4 in bf16 tiles: the adapter differs with recomputation"
LORAFIT_BF16_BACKEND= run "${TRAIN[@]}" --out "$TMP/nf4-fp32-tiles" --base-dtype nf4
[ "$rc" -eq 0 ] && pass || fail "train nf4: $err"
[ "$usable" -eq 1 ] || ! cmp -s "$TMP/nf4-fp32-tiles/adapter_model.safetensors" \
  "$TMP/nf4--recompute/adapter_model.safetensors" && pass || fail "nf4: bf16 tiles gave fp32 tiles' adapter"

LORAFIT_BF16_BACKEND=fast expect_fail 2 "LORAFIT_BF16_BACKEND is \"fast\"" "${TRAIN[@]}" --out "$TMP/ad-y" \
  --base-dtype bf16
finish
