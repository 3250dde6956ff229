# lib.sh - shared by the tests/cli_*.sh scripts: run lorafit, compare, count.
# Each script sources this, calls the expect_* helpers, and ends with `finish`,
# which prints "N passed, N failed" and exits non-zero on any failure.
set -u
LORAFIT=${LORAFIT_BIN:-./build/lorafit}
TMP=${LORAFIT_TMP:-/tmp}/$(basename "$0" .sh).$$
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0

# The SMS Spam Collection committed under data/ (data/README.md).
SMS=${LORAFIT_SOURCE_DIR:-.}/data/sms_spam/SMSSpamCollection

# require_sms: a test that needs the SMS data skips (77), saying why, when a
# checkout lacks it.
require_sms() {
  [ -r "$SMS" ] || { echo "SKIP: $SMS is absent (the SMS Spam Collection, committed under data/)"; exit 77; }
}

fail() { failed=$((failed + 1)); printf 'FAIL: %s\n' "$*" >&2; }
pass() { passed=$((passed + 1)); }

# run ARGS...: runs lorafit; sets $out, $err, $rc.
run() {
  "$LORAFIT" "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
  out=$(cat "$TMP/out")
  err=$(cat "$TMP/err")
}

# expect_out "WANT" ARGS...: exit 0 and stdout exactly WANT.
expect_out() {
  local want=$1; shift
  run "$@"
  if [ "$rc" -ne 0 ]; then fail "lorafit $*: exit $rc, stderr: $err"; return; fi
  if [ "$out" != "$want" ]; then fail "lorafit $*: stdout"$'\n'"got:  $out"$'\n'"want: $want"; return; fi
  pass
}

# expect_fail CODE "SUBSTRING" ARGS...: exit CODE and stderr contains SUBSTRING.
expect_fail() {
  local code=$1 want=$2; shift 2
  run "$@"
  if [ "$rc" -ne "$code" ]; then fail "lorafit $*: exit $rc, want $code (stderr: $err)"; return; fi
  case "$err" in
    *"$want"*) pass ;;
    *) fail "lorafit $*: stderr lacks '$want'"$'\n'"stderr: $err" ;;
  esac
}

# expect_contains "SUBSTRING" ARGS...: exit 0 and stdout contains SUBSTRING.
expect_contains() {
  local want=$1; shift
  run "$@"
  if [ "$rc" -ne 0 ]; then fail "lorafit $*: exit $rc, stderr: $err"; return; fi
  case "$out" in
    *"$want"*) pass ;;
    *) fail "lorafit $*: stdout lacks '$want'"$'\n'"stdout: $out" ;;
  esac
}

# expect_that "DESCRIPTION" COMMAND...: the command succeeds.
expect_that() {
  local what=$1; shift
  if "$@"; then pass; else fail "$what"; fi
}

# interrupt_after LOG STEPS ARGS...: runs lorafit ARGS in the background,
# sends SIGINT once the file LOG holds STEPS lines, and waits for it; sets
# $rc and $err (the run's stderr).
interrupt_after() {
  local log=$1 steps=$2 pid; shift 2
  "$LORAFIT" "$@" >/dev/null 2>"$TMP/err_interrupted" &
  pid=$!
  for _ in $(seq 1 600); do
    [ -f "$log" ] && [ "$(wc -l < "$log")" -ge "$steps" ] && break
    sleep 0.05
  done
  kill -INT "$pid"
  wait "$pid"
  rc=$?
  err=$(cat "$TMP/err_interrupted")
}

# tiny_model_and_csv: a tiny random GPT-2 in $TMP/model (2 layers, n_embd
# 32, seed 7) and six labelled messages in $TMP/tiny.csv, quick to train on.
tiny_model_and_csv() {
  run random-model --out "$TMP/model" --n-layer 2 --n-embd 32 --n-head 2 --n-ctx 128 --seed 7
  [ "$rc" -eq 0 ] && pass || fail "random-model: $err"
  printf '%s\n' 'Label,Text' 'ham,Are we still on for lunch?' 'spam,"WINNER! Claim your prize now, call 0900"' \
    'ham,See you at the station at six' 'spam,"Free entry to win a holiday, text WIN to 80082"' \
    'ham,"Ok, I will bring the book"' 'spam,URGENT: your account has a cash reward waiting' > "$TMP/tiny.csv"
}

finish() {
  printf '%d passed, %d failed\n' "$passed" "$failed"
  [ "$failed" -eq 0 ]
}
