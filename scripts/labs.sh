#!/usr/bin/env bash
# labs.sh - the labs' whole workflow in one go, from a fresh clone:
#   set up and build, fetch GPT-2 124M and the SMS Spam Collection, make the
#   balanced 1045/149/300 split, fine-tune one epoch with LoRA (rank 8, alpha
#   16, batch 8), report test accuracy and classify two messages.
# What it cannot fetch it names, with the way to provide it, and stops.
#
# Environment: MODEL (default models/gpt2-small), EPOCHS (1), POOL
# (last-position, as the labs; or last-token), THREADS (all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
lorafit=./build/lorafit
MODEL=${MODEL:-models/gpt2-small}
EPOCHS=${EPOCHS:-1}
POOL=${POOL:-last-position}
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")

missing=()
if [ ! -f "$MODEL/model.safetensors" ]; then
    if [ "$MODEL" = models/gpt2-small ] && bash scripts/download-gpt2.sh 124M; then :; else
        missing+=("GPT-2 weights: $MODEL/model.safetensors (get them with: bash scripts/download-gpt2.sh 124M; or put a Hugging Face GPT-2 model.safetensors + config.json in $MODEL)")
    fi
fi
SMS=../shared/data/sms_spam/SMSSpamCollection
if [ ! -f "$SMS" ]; then
    SMS=out/sms_spam/SMSSpamCollection
    if [ ! -f "$SMS" ] && ! bash scripts/download-sms.sh out/sms_spam; then
        missing+=("the SMS Spam Collection: $SMS (get it with: bash scripts/download-sms.sh; or unzip SMSSpamCollection from the UCI archive into out/sms_spam/)")
    fi
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo >&2
    echo "labs.sh: cannot run the workflow; missing:" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    echo "labs.sh: lorafit itself is built (./build/lorafit --help); to try it without downloads:" >&2
    echo "  ./build/lorafit random-model --out models/random && MODEL=models/random bash scripts/labs.sh" >&2
    exit 1
fi

set -x
"$lorafit" split "$SMS" --out-dir out/sms-split --balance
"$lorafit" train --model "$MODEL" --train out/sms-split/train.csv --val out/sms-split/validation.csv \
    --out out/adapter --force --epochs "$EPOCHS" --pool "$POOL" "${threads[@]}" \
    --log out/train.jsonl --plot out/train.svg
"$lorafit" eval --model "$MODEL" --adapter out/adapter --data out/sms-split/test.csv "${threads[@]}"
"$lorafit" classify --model "$MODEL" --adapter out/adapter \
    "You are a winner you have been specially selected to receive \$1000 cash or a \$2000 award." \
    "Hey, just wanted to check if we're still on for dinner tonight? Let me know!"
