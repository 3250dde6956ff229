#!/usr/bin/env bash
# cli_tokenize.sh - `lorafit tokenize` from the outside: what goes to stdout
# and stderr, exit codes, and a byte-exact round trip through --decode.
# Expected ids are tiktoken's (the same cases are in
# tests/fixtures/tokenizer/gpt2_cases.tsv: "hello", "special-inside").
set -u
bin=${LORAFIT_BIN:?LORAFIT_BIN is not set}
src=${LORAFIT_SOURCE_DIR:-.}
tmp=${LORAFIT_TMP:-/tmp}/cli-tokenize
mkdir -p "$tmp"
passed=0 failed=0

check() { # check DESCRIPTION COMMAND...: the command must succeed
  local what=$1
  shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what"; fi
}
run() { # run ARGS...: sets $out, $err, $rc
  "$bin" tokenize "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}

run --ids "Hello world"
check "--ids prints only the ids" [ "$rc" = 0 -a "$out" = "15496 995" ]
check "--ids puts the count on stderr" grep -q "2 tokens, 11 bytes" "$tmp/err"

printf 'Hello world' | "$bin" tokenize --ids - >"$tmp/out" 2>/dev/null
check "'-' reads standard input" [ "$(cat "$tmp/out")" = "15496 995" ]

run "Hello world"
check "pieces by default" grep -q '^ *995  " world"$' "$tmp/out"

# Invalid UTF-8, CRLF, tabs, trailing spaces: the bytes come back exactly.
printf 'caf\xe9 cr\xe8me\r\n\tx  \xf0\x9f\x98\x80 <|endoftext|>  ' >"$tmp/in"
"$bin" tokenize --ids --allow-special - <"$tmp/in" >"$tmp/ids" 2>"$tmp/err"
check "invalid UTF-8 is a warning, with the offset" grep -q "2 bytes of the input are not valid UTF-8 (the first at byte 3)" "$tmp/err"
"$bin" tokenize --decode - <"$tmp/ids" >"$tmp/back" 2>/dev/null
check "decode(encode(x)) == x through the CLI" cmp -s "$tmp/in" "$tmp/back"

run --ids "a<|endoftext|>b"
check "a special token is an error by default" [ "$rc" = 2 -a -z "$out" ]
check "the error says how to allow it" grep -q -- "--allow-special" "$tmp/err"
run --ids --allow-special "a<|endoftext|>b"
check "--allow-special gives id 50256" [ "$rc" = 0 -a "$out" = "64 50256 65" ]

run --decode "15496, 995"
check "--decode" [ "$rc" = 0 -a "$out" = "Hello world" ]
run --decode "15496 50257"
check "--decode rejects an unknown id" [ "$rc" = 2 ]
check "... naming it" grep -q "50257 at position 1" "$tmp/err"
run --decode "15496 hello"
check "--decode rejects a word" [ "$rc" = 2 ]

run --vocab "$src/data/gpt2" --ids "Hello world"
check "--vocab DIR" [ "$rc" = 0 -a "$out" = "15496 995" ]
run --vocab "$tmp/no-such-dir" --ids x
check "--vocab with no files is an input error naming the dir" [ "$rc" = 2 ]
check "... naming the dir" grep -q "no-such-dir" "$tmp/err"

run
check "no TEXT is a usage error" [ "$rc" = 2 ]
check "... with the usage line" grep -q "^usage: lorafit tokenize" "$tmp/err"
run --ids --decode x
check "two modes is a usage error" [ "$rc" = 2 ]
run --frobnicate x
check "an unknown option is a usage error" [ "$rc" = 2 ]
check "... naming it" grep -q "unknown option '--frobnicate'" "$tmp/err"
run --help
check "--help" [ "$rc" = 0 ]
check "... prints the usage" grep -q "usage: lorafit tokenize" "$tmp/out"

printf 'ham\tHello world\nspam\tWIN a prize!\n' >"$tmp/bench.txt"
run --bench "$tmp/bench.txt" --seconds 0
check "--bench prints both modes" [ "$rc" = 0 -a "$(grep -c 'MB/s' "$tmp/out")" = 2 ]
check "--bench encodes the text after the tab" grep -q "one-string .* 24 bytes, 7 ids" "$tmp/out"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
