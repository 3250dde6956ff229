# cli_labs.sh - scripts/labs.sh, the README's first command, without the
# network: one line says GPT-2 cannot be had and how to get it, then the
# whole workflow runs as a labelled demo on a random GPT-2 and exits 0.
# Runs the tiny demo (DEMO_SIZE=tiny) on the built lorafit (LORAFIT_BIN, so
# no setup or build), offline by pointing the download at a closed port.
. "$(dirname "$0")/lib.sh"
require_sms # without it labs.sh would try to download it
src=${LORAFIT_SOURCE_DIR:-.}
labs=$src/scripts/labs.sh
if [ -e "$src/models/gpt2-small/model.safetensors" ]; then
  echo "SKIP: models/gpt2-small holds GPT-2, so labs.sh would run the real workflow, not the demo"
  exit 77
fi
offline=(env LORAFIT_BIN="$LORAFIT" LORAFIT_HF_BASE_URL=http://127.0.0.1:9 OUT="$TMP/out" THREADS=1 DEMO_SIZE=tiny)

"${offline[@]}" bash "$labs" > "$TMP/stdout" 2> "$TMP/stderr"
rc=$?
[ "$rc" -eq 0 ] && pass || fail "labs.sh offline: exit $rc: $(tail -3 "$TMP/stderr")"
said=$(grep '^labs.sh' "$TMP/stderr") # what labs.sh itself says, not lorafit or set -x
[ "$(printf '%s\n' "$said" | grep -c .)" -eq 1 ] && pass || fail "want one line from labs.sh on stderr, got: $said"
case "$said" in
  "labs.sh: GPT-2 124M is not in models/gpt2-small and cannot be downloaded here;"*)
    case "$said" in *"bash scripts/download-gpt2.sh 124M"*"--model DIR") pass ;; *) fail "ways to get GPT-2: $said" ;; esac ;;
  *) fail "the line about the weights: $said" ;;
esac
case "$(head -1 "$TMP/stdout")" in
  "labs.sh: DEMO: "*"random GPT-2"*"accuracy means nothing") pass ;;
  *) fail "first line does not announce the demo: $(head -1 "$TMP/stdout")" ;;
esac
case "$(tail -2 "$TMP/stdout")" in
  "labs.sh: DEMO done: that was a random GPT-2, so the accuracy above means nothing."*) pass ;;
  *) fail "last lines do not label the demo: $(tail -2 "$TMP/stdout")" ;;
esac
grep -q '^Test accuracy: [0-9.]*%$' "$TMP/stdout" && pass || fail "no test accuracy"
[ "$(grep -cE '^(spam|ham) \(confidence: [01]\.[0-9][0-9]\)$' "$TMP/stdout")" -eq 2 ] && pass \
  || fail "want two classified messages: $(tail -5 "$TMP/stdout")"
for f in demo/model/model.safetensors demo/split/test.csv demo/adapter/adapter_config.json demo/train.svg; do
  [ -s "$TMP/out/$f" ] && pass || fail "labs.sh wrote no $f"
done
[ ! -e "$src/models/gpt2-small" ] && pass || fail "labs.sh left models/gpt2-small behind"

# Arguments are checked before anything is built or fetched.
"${offline[@]}" bash "$labs" --model "$TMP/no-such-model" > /dev/null 2> "$TMP/stderr"
rc=$?
[ "$rc" -eq 2 ] && grep -q "no-such-model: no such file or directory" "$TMP/stderr" && pass \
  || fail "--model of a missing directory: exit $rc: $(cat "$TMP/stderr")"
"${offline[@]}" bash "$labs" --bogus > /dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] && pass || fail "an unknown argument: exit $rc"

finish
