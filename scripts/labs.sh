#!/usr/bin/env bash
# labs.sh - the labs' whole workflow in one go, from a fresh clone:
#   set up and build, fetch GPT-2 124M, make the balanced 1045/149/300 split
#   of the SMS Spam Collection (data/sms_spam), fine-tune one epoch with LoRA
#   (rank 8, alpha 16, batch 8), report test accuracy and classify two messages.
# When GPT-2 is not in models/gpt2-small and cannot be downloaded, it says so
# in one line, with the ways to get it, and runs the same workflow as a demo
# on a small random GPT-2 (`lorafit random-model`): random weights, so that
# accuracy means nothing.
#
#   bash scripts/labs.sh [--model DIR]
#
# --model DIR (or MODEL=DIR): a Hugging Face GPT-2 directory to use instead
# of models/gpt2-small. Environment: EPOCHS (1), POOL (last-position, as
# the labs; or last-token), THREADS (all cores), OUT (out: where the split,
# adapter, log and plot go), LORAFIT_BIN (run this executable instead of
# setting up and building build/lorafit), DEMO_SIZE (small; tiny for tests).
set -euo pipefail
cd "$(dirname "$0")/.."
prog=labs.sh
MODEL=${MODEL:-}
while [ $# -gt 0 ]; do
    case $1 in
    --model) [ $# -ge 2 ] || { echo "$prog: --model needs a directory" >&2; exit 2; }; MODEL=$2; shift ;;
    --model=*) MODEL=${1#--model=} ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$prog: unknown argument '$1' (usage: bash scripts/labs.sh [--model DIR])" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$MODEL" ] && [ ! -e "$MODEL" ]; then
    echo "$prog: --model $MODEL: no such file or directory" >&2
    exit 2
fi
if [ -n "${LORAFIT_BIN:-}" ]; then
    lorafit=$LORAFIT_BIN
else
    bash scripts/setup.sh
    lorafit=./build/lorafit
fi
EPOCHS=${EPOCHS:-1}
POOL=${POOL:-last-position}
OUT=${OUT:-out}
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")

SMS=data/sms_spam/SMSSpamCollection
if [ ! -f "$SMS" ]; then # a checkout without data/: fetch it from UCI
    SMS=out/sms_spam/SMSSpamCollection
    bash scripts/download-sms.sh out/sms_spam ||
        { echo "$prog: no SMS Spam Collection: $SMS (get it with: bash scripts/download-sms.sh)" >&2; exit 1; }
fi

# Whether Hugging Face answers at all, within seconds: offline, curl's own
# retries in download-gpt2.sh would take minutes to give up.
hf_reachable() {
    command -v curl >/dev/null &&
        curl -s -o /dev/null --head --connect-timeout 5 --max-time 20 \
            "${LORAFIT_HF_BASE_URL:-https://huggingface.co}/openai-community/gpt2/resolve/main/config.json"
}

demo=0
if [ -z "$MODEL" ]; then
    MODEL=models/gpt2-small
    if [ ! -f "$MODEL/model.safetensors" ] && ! { hf_reachable && bash scripts/download-gpt2.sh 124M; }; then
        echo "$prog: GPT-2 124M is not in $MODEL and cannot be downloaded here; get it with" \
            "'bash scripts/download-gpt2.sh 124M' where there is network, copy a Hugging Face GPT-2" \
            "directory (model.safetensors, config.json) to $MODEL, or pass --model DIR" >&2
        demo=1
    fi
fi

# workflow MODEL SPLIT_DIR ADAPTER_DIR [TRAIN OPTIONS...]: split, fine-tune,
# test, classify two messages; each command shown as it runs.
workflow() {
    local model=$1 split=$2 adapter=$3
    shift 3
    set -x
    "$lorafit" split "$SMS" --out "$split" --force --balance
    "$lorafit" train --model "$model" --train "$split/train.csv" --val "$split/validation.csv" \
        --out "$adapter" --force "${threads[@]}" "$@"
    "$lorafit" eval --model "$model" --adapter "$adapter" --data "$split/test.csv" "${threads[@]}"
    "$lorafit" classify --model "$model" --adapter "$adapter" "${threads[@]}" \
        "You are a winner you have been specially selected to receive \$1000 cash or a \$2000 award." \
        "Hey, just wanted to check if we're still on for dinner tonight? Let me know!"
    { set +x; } 2>/dev/null
}

if [ "$demo" -eq 0 ]; then
    workflow "$MODEL" "$OUT/sms-split" "$OUT/adapter" --epochs "$EPOCHS" --pool "$POOL" \
        --log "$OUT/train.jsonl" --plot "$OUT/train.svg"
    exit 0
fi

# The demo: the README's random-model example (4 layers, width 128), two
# epochs at a higher learning rate, well under a minute on two cores;
# DEMO_SIZE=tiny (for tests) makes it 2 layers of width 32 and one epoch.
case ${DEMO_SIZE:-small} in
small) shape=(--n-layer 4 --n-embd 128 --n-head 4 --n-ctx 256) demo_epochs=2 ;;
tiny) shape=(--n-layer 2 --n-embd 32 --n-head 2 --n-ctx 128) demo_epochs=1 ;;
*) echo "$prog: DEMO_SIZE must be small or tiny, not '$DEMO_SIZE'" >&2; exit 2 ;;
esac
d=$OUT/demo
echo "$prog: DEMO: the workflow on a small random GPT-2 ($d/model), not GPT-2: its accuracy means nothing"
(set -x; "$lorafit" random-model --out "$d/model" "${shape[@]}" --force)
workflow "$d/model" "$d/split" "$d/adapter" --lr 1e-3 --epochs "$demo_epochs" --log-every 40 \
    --log "$d/train.jsonl" --plot "$d/train.svg"
echo "$prog: DEMO done: that was a random GPT-2, so the accuracy above means nothing."
echo "$prog: for the real run get GPT-2 (bash scripts/download-gpt2.sh 124M) and run bash scripts/labs.sh again."
