# cli_generate.sh - `lorafit generate` on a tiny random GPT-2 and the
# committed language-model adapter (tests/fixtures/generate): greedy runs
# repeat, --max-new-tokens and --stop cut where they say, --json has its
# fields, prompts from stdin in batches give what they give one by one,
# streamed text is the same bytes as the batched, and each error has its
# message and exit code.
. "$(dirname "$0")/lib.sh"

ADAPTER=${LORAFIT_SOURCE_DIR:-.}/tests/fixtures/generate/lm-adapter
run random-model --out "$TMP/model" --n-layer 2 --n-embd 32 --n-head 2 --n-ctx 64 --seed 7
[ "$rc" -eq 0 ] && pass || fail "random-model: $err"
# A vocabulary smaller than the tokenizer's: refused before writing (no command could open the model).
expect_fail 2 "--vocab-size 100 is smaller than the GPT-2 tokenizer's 50257 ids" random-model --out "$TMP/small_vocab" \
  --n-layer 1 --n-embd 16 --n-head 2 --n-ctx 8 --vocab-size 100
[ ! -e "$TMP/small_vocab/model.safetensors" ] && pass || fail "random-model --vocab-size 100 wrote a model"
# A padded vocabulary (50304 rows, as nanoGPT's): only the tokenizer's ids are sampled, since the
# others have no text (a random model at temperature 5 picks some within 20 prompts x 15 tokens).
run random-model --out "$TMP/padded" --n-layer 1 --n-embd 16 --n-head 2 --n-ctx 16 --vocab-size 50304
[ "$rc" -eq 0 ] && pass || fail "random-model --vocab-size 50304: $err"
run generate --model "$TMP/padded" --temperature 5 --json --max-new-tokens 15 - < <(printf 'hi %d\n' $(seq 1 20))
top=$(grep -o '"generated_ids":\[[0-9,]*' <<<"$out" | grep -o '[0-9][0-9]*' | sort -n | tail -1)
[ "$rc" -eq 0 ] && [ -n "$top" ] && [ "$top" -lt 50257 ] && pass || fail "padded vocabulary: exit $rc, largest id '$top'"
GEN=(generate --model "$TMP/model" --adapter "$ADAPTER" --threads 2)

# generated_ids of a --json line, space-separated
ids_of() { sed -n 's/.*"generated_ids":\[\([0-9,]*\)\].*/\1/p' <<<"$1" | tr ',' ' '; }

# Greedy is the default and repeats; the adapter changes the tokens.
run "${GEN[@]}" --json --max-new-tokens 12 "Hello"
first=$out
run "${GEN[@]}" --json --max-new-tokens 12 --threads 1 "Hello"
[ "$out" = "$first" ] && pass || fail "greedy differs between runs: $first / $out"
run generate --model "$TMP/model" --json --max-new-tokens 12 "Hello"
[ "$(ids_of "$out")" != "$(ids_of "$first")" ] && pass || fail "the adapter changed nothing: $out"

# --json: the prompt, its ids (tiktoken's: "Hello" is 15496), 12 new ids, why it stopped.
case "$first" in
  '{"prompt":"Hello","prompt_ids":[15496],"generated_ids":['*'],"text":"'*'","stop_reason":"max_new_tokens"}') pass ;;
  *) fail "--json shape: $first" ;;
esac
n=$(ids_of "$first" | wc -w)
[ "$n" -eq 12 ] && pass || fail "--max-new-tokens 12 gave $n tokens"
run "${GEN[@]}" --json --max-new-tokens 3 "Hello"
[ "$(ids_of "$out")" = "$(ids_of "$first" | cut -d' ' -f1-3)" ] && pass || fail "--max-new-tokens 3: not the first 3 of 12"

# --stop: the text up to the stop string's first occurrence, without it.
run "${GEN[@]}" --max-new-tokens 12 "Hello"
full=$out
stop=${full:5:3} # three bytes from inside the continuation
run "${GEN[@]}" --max-new-tokens 12 --stop "$stop" "Hello"
[ "$out" = "${full%%"$stop"*}" ] && pass || fail "--stop '$stop': got '$out' from '$full'"
run "${GEN[@]}" --json --max-new-tokens 12 --stop "$stop" "Hello"
case "$out" in *'"stop_reason":"stop"}') pass ;; *) fail "--stop: stop_reason in $out" ;; esac
# an empty --stop stops nothing (it used to hang, looking for its last byte)
out=$(timeout 20 "$LORAFIT" "${GEN[@]}" --max-new-tokens 12 --stop "" "Hello" 2>/dev/null)
rc=$?
[ "$rc" -eq 0 ] && [ "$out" = "$full" ] && pass || fail "--stop '': exit $rc, '$out', want '$full'"

# The context: a 60-token prompt on a model of context 64 leaves room for 4
# new tokens (unless <|endoftext|> comes first).
run "${GEN[@]}" --json --max-new-tokens 10 "word$(printf ' word%.0s' $(seq 59))"
n=$(ids_of "$out" | wc -w)
case "$n $out" in "4 "*'"stop_reason":"context"}' | *'50256],"text":'*'"stop_reason":"endoftext"}') pass ;;
  *) fail "a 60-token prompt in a context of 64: $n tokens: $out" ;; esac

# stdin: one prompt per line, in batches; equal to the prompts one by one,
# and streaming (one prompt) writes the bytes the batch writes.
printf 'Hello\nThe cat sat\n\nOnce upon a time\n' > "$TMP/prompts.txt"
want=""
for p in "Hello" "The cat sat" "Once upon a time"; do
  run "${GEN[@]}" --max-new-tokens 10 "$p"
  want+="$out"$'\n'
done
for bs in 1 2 3; do
  run "${GEN[@]}" --max-new-tokens 10 --batch-size "$bs" - < "$TMP/prompts.txt"
  [ "$out"$'\n' = "$want" ] && pass || fail "stdin, batch $bs:"$'\n'"$out"$'\n'"want:"$'\n'"$want"
done
# A Windows-made file (UTF-8 BOM, CRLF) gives the same continuations: the BOM is no part of "Hello".
printf '\357\273\277Hello\r\nThe cat sat\r\n\r\nOnce upon a time\r\n' > "$TMP/prompts_bom.txt"
run "${GEN[@]}" --max-new-tokens 10 --batch-size 2 - < "$TMP/prompts_bom.txt"
[ "$out"$'\n' = "$want" ] && pass || fail "stdin with a BOM and CRLF:"$'\n'"$out"$'\n'"want:"$'\n'"$want"
run "${GEN[@]}" --max-new-tokens 10 --json --batch-size 2 - < "$TMP/prompts.txt"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 3 ] && pass || fail "--json from stdin: not 3 lines: $out"
# A NUL byte on stdin is named, not cut off (the line ended there; a line
# starting with one was skipped as blank: "standard input holds no prompt").
printf 'ok\n\000cd\n' > "$TMP/nul.txt"
expect_fail 2 "line 2 of standard input holds a NUL byte" "${GEN[@]}" - < "$TMP/nul.txt"
# --help says that the blank line was skipped (not taken as the empty prompt).
run generate --help
case "$out" in *"(blank lines are"*"skipped)"*) pass ;; *) fail "generate --help does not say blank lines are skipped" ;; esac

# Sampling: reproducible from --seed, and another seed draws otherwise.
SAMPLE=("${GEN[@]}" --json --max-new-tokens 16 --temperature 1.5 --top-k 1000 --top-p 0.95)
run "${SAMPLE[@]}" --seed 3 "Hello"; a=$out
run "${SAMPLE[@]}" --seed 3 "Hello"; b=$out
run "${SAMPLE[@]}" --seed 4 "Hello"; c=$out
[ "$a" = "$b" ] && pass || fail "same seed, other tokens: $a / $b"
[ "$a" != "$c" ] && pass || fail "seeds 3 and 4 drew the same 16 tokens"
# top-k 1 is greedy whatever the temperature
run "${GEN[@]}" --json --max-new-tokens 12 --temperature 2 --top-k 1 --seed 9 "Hello"
[ "$(ids_of "$out")" = "$(ids_of "$first")" ] && pass || fail "top-k 1 is not greedy: $out"

# The streamed text is whole UTF-8: every chunk written ends a character,
# so the whole output is valid (the random model emits byte tokens).
run "${GEN[@]}" --max-new-tokens 40 --temperature 1 --seed 1 "é"
if printf '%s' "$out" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; then pass; else
  # a continuation that ends inside a character may end invalid; the
  # middle must not: cut the last 3 bytes and check again
  printf '%s' "$out" | head -c -3 | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1 && pass || fail "invalid UTF-8 inside the stream"
fi

# --json is valid UTF-8 even where the tokens hold parts of characters.
run "${GEN[@]}" --json --max-new-tokens 40 --temperature 1 --seed 1 "é"
printf '%s' "$out" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1 && pass || fail "--json is not UTF-8: $out"

# Errors.
expect_fail 2 "no prompt given" "${GEN[@]}"
expect_fail 2 "'--top-p'" "${GEN[@]}" --top-p 0 "Hello"
expect_fail 2 "'--temperature'" "${GEN[@]}" --temperature -1 "Hello"
long="word$(printf ' word%.0s' $(seq 79))" # 80 tokens
expect_fail 2 "the prompt is 80 tokens long: it does not fit the model's context of 64" "${GEN[@]}" "$long"
printf 'Hello\n%s\n' "$long" > "$TMP/long.txt"
run "${GEN[@]}" - < "$TMP/long.txt"
[ "$rc" -eq 2 ] && case "$err" in *"line 2 of standard input"*) true ;; *) false ;; esac && pass ||
  fail "a long prompt on stdin: exit $rc: $err"
expect_fail 2 "not for classification" classify --model "$TMP/model" --adapter "$ADAPTER" "Hello"
printf 'Label,Text\nham,hi there\nspam,win a prize now\nham,see you soon\nspam,call now to claim\n' > "$TMP/tiny.csv"
expect_fail 2 "not for classification" eval --model "$TMP/model" --adapter "$ADAPTER" --data "$TMP/tiny.csv"
run train --model "$TMP/model" --train "$TMP/tiny.csv" --batch-size 2 --threads 1 --log-every 0 --out "$TMP/cls"
[ "$rc" -eq 0 ] && pass || fail "train a classifier: $err"
expect_fail 2 "is an adapter for classification, not for causal language modelling" \
  generate --model "$TMP/model" --adapter "$TMP/cls" "Hello"
expect_fail 2 "no such adapter directory" generate --model "$TMP/model" --adapter "$TMP/none" "Hello"
finish
