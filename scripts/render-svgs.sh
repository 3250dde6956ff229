#!/usr/bin/env bash
# render-svgs.sh - renders the SVGs lorafit draws to PNG in a headless
# chromium, to look at them (not run by CI).
#
#   scripts/render-svgs.sh FILE.svg ...      renders each to FILE.png beside it
#   scripts/render-svgs.sh [--out DIR]       draws every kind of SVG on a tiny random model first
#                                            (train --plot, inspect --svg with and without --model,
#                                            inspect --log --svg) into DIR (default /tmp/lorafit-svgs)
# LORAFIT (default ./build/lorafit) and CHROMIUM (default chromium) name the programs.
set -euo pipefail
LORAFIT=${LORAFIT:-./build/lorafit}
CHROMIUM=${CHROMIUM:-chromium}

# render SVG: the window is the SVG's own width and height (its first two attributes of those names).
render() {
  local svg=$1 w h
  w=$(grep -m1 -o 'width="[0-9.]*"' "$svg" | head -1 | tr -dc '0-9.')
  h=$(grep -m1 -o 'height="[0-9.]*"' "$svg" | head -1 | tr -dc '0-9.')
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="${w%.*},${h%.*}" \
    --screenshot="${svg%.svg}.png" "file://$(realpath "$svg")" >/dev/null 2>&1
  echo "${svg%.svg}.png (${w%.*} x ${h%.*})"
}

if [ $# -gt 0 ] && [ "$1" != --out ]; then
  for svg in "$@"; do render "$svg"; done
  exit 0
fi
OUT=${2:-/tmp/lorafit-svgs}
mkdir -p "$OUT"
"$LORAFIT" random-model --force --out "$OUT/model" --n-layer 4 --n-embd 64 --n-head 2 --n-ctx 128 --seed 7 >/dev/null
printf '%s\n' 'Label,Text' 'ham,Are we still on for lunch?' 'spam,"WINNER! Claim your prize now, call 0900"' \
  'ham,See you at the station at six' 'spam,"Free entry to win a holiday, text WIN to 80082"' \
  'ham,"Ok, I will bring the book"' 'spam,URGENT: your account has a cash reward waiting' > "$OUT/tiny.csv"
"$LORAFIT" train --model "$OUT/model" --train "$OUT/tiny.csv" --val "$OUT/tiny.csv" --out "$OUT/adapter" --force \
  --batch-size 2 --epochs 12 --lr 3e-3 --log-every 0 --log "$OUT/train.jsonl" --track-norms 1 \
  --plot "$OUT/train.svg" >/dev/null 2>&1
"$LORAFIT" inspect --adapter "$OUT/adapter" --svg "$OUT/inspect.svg" >/dev/null
"$LORAFIT" inspect --adapter "$OUT/adapter" --model "$OUT/model" --svg "$OUT/inspect-model.svg" >/dev/null
"$LORAFIT" inspect --log "$OUT/train.jsonl" --svg "$OUT/inspect-log.svg" >/dev/null
for svg in train inspect inspect-model inspect-log; do render "$OUT/$svg.svg"; done
