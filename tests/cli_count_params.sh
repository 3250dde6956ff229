# cli_count_params.sh - `lorafit count-params` prints the labs' and PEFT's
# tables to the digit (values from the issue, i.e. from the labs' and PEFT's
# own printouts), and every bad invocation exits 2 naming the problem.
. "$(dirname "$0")/lib.sh"

expect_out "trainable params: 1,327,104 || all params: 164,364,288 || trainable%: 0.81%
trainable params: 1,328,642 || all params: 125,768,450 || trainable%: 1.06%" count-params

expect_out "trainable params: 147,456 || all params: 124,587,264 || trainable%: 0.1184" \
  count-params --style peft --rank 4 --targets c_attn
expect_out "trainable params: 294,912 || all params: 124,734,720 || trainable%: 0.2364" \
  count-params --style peft --rank 8 --targets c_attn
expect_out "trainable params: 589,824 || all params: 125,029,632 || trainable%: 0.4717" \
  count-params --style peft --rank=16 --targets c_attn
expect_out "trainable params: 663,552 || all params: 125,103,360 || trainable%: 0.5304" \
  count-params --style peft --rank 8 --targets c_attn,mlp.c_proj
expect_out "trainable params: 2,654,208 || all params: 127,094,016 || trainable%: 2.0884" \
  count-params --style peft --rank 32 --targets c_attn,mlp.c_proj
# Naming HF modules selects the PEFT accounting by itself.
expect_out "trainable params: 294,912 || all params: 124,734,720 || trainable%: 0.2364" \
  count-params --targets c_attn

# The labs' requires_grad check: 144 tensors with gradients, 197 frozen.
expect_contains "parameter tensors before the head swap: 144 with gradients, 197 frozen" count-params --tensors

# Structure, in PyTorch's print style.
expect_contains "    (W_query): LinearWithLoRA(
      (linear): Linear(in_features=768, out_features=768, bias=True)
      (lora): LoRALayer()
    )" count-params --show-structure
expect_contains "(base_layer): Conv1D(nf=2304, nx=768)" count-params --style peft --show-structure

# JSON carries the same numbers.
expect_contains '"trainable":	1328642' count-params --json
expect_contains '"tensors_frozen":	197' count-params --json

# --model takes the shape from a checkpoint: a small random one here, its
# expected counts from GPT-2's formula (labs' GPTModel, every block Linear adapted).
run random-model --out "$TMP/model" --n-layer 2 --n-embd 32 --n-head 2 --n-ctx 128
V=50257 C=32 P=128 L=2 R=8
base=$(( V*C + P*C + L*(4*(C*C + C) + (C*4*C + 4*C) + (4*C*C + C) + 4*C) + 2*C + V*C ))
lora=$(( L*R*(4*2*C + 5*C + 5*C) ))
pct=$(awk -v t="$lora" -v a="$((base + lora))" 'BEGIN {printf "%.2f", 100 * t / a}')
line=$("$LORAFIT" count-params --model "$TMP/model" | head -1 | tr -d ,)
[ "$line" = "trainable params: $lora || all params: $((base + lora)) || trainable%: $pct%" ] && pass ||
  fail "count-params --model: '$line', want $lora / $((base + lora)) / $pct%"
expect_fail 2 "give --config or --model, not both" count-params --model "$TMP/model" --config gpt2-xl
expect_fail 2 "no-such-dir" count-params --model "$TMP/no-such-dir"

# Bad invocations: exit 2, the problem named.
expect_fail 2 "unknown option '--rnak'" count-params --rnak 8
expect_fail 2 "usage: lorafit count-params" count-params --rnak 8
expect_fail 2 "option '--rank' needs a value" count-params --rank
expect_fail 2 "option '--rank' must be between 1 and" count-params --rank 0
expect_fail 2 "option '--rank' must be between 1 and" count-params --rank -4
expect_fail 2 "option '--rank' expects a whole number, got '2.5'" count-params --rank 2.5
expect_fail 2 "option '--alpha' expects a number, got 'abc'" count-params --alpha abc
expect_fail 2 "unknown target 'W_qeury'" count-params --targets W_query,W_qeury
expect_fail 2 "unknown model preset 'gpt3'" count-params --config gpt3
expect_fail 2 "option '--style' expects one of labs, peft, got 'hf'" count-params --style hf
expect_fail 2 "unexpected argument 'extra'" count-params extra

# The top level.
expect_contains "count-params" --help
expect_contains "usage: lorafit count-params" help count-params
expect_contains "usage: lorafit count-params" count-params --help
expect_contains "lorafit 0." --version
expect_fail 2 "unknown command 'frobnicate'" frobnicate
expect_fail 2 "no command given"
expect_fail 2 "unknown command 'frobnicate'" help frobnicate

finish
