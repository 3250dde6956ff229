#!/usr/bin/env bash
# cli_download_gpt2.sh - scripts/download-gpt2.sh without the network: its
# arguments, its message when the host cannot be reached, and its checks on
# files served from a file:// tree made here. Checksums it must accept are
# those of the tokenizer files in data/gpt2 (the same bytes as Hugging
# Face's vocab.json and merges.txt); the rest are made-up files it must
# accept unchecked (355M) or reject (124M, whose sizes and checksums it knows).
set -u
src=${LORAFIT_SOURCE_DIR:-.}
tmp=${LORAFIT_TMP:-/tmp}/download-gpt2
script=$src/scripts/download-gpt2.sh
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect() { # description, condition...
    local what=$1; shift
    if "$@"; then ok; else bad "$what"; fi
}
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }

rm -rf "$tmp" && mkdir -p "$tmp"
out=$("$script" --help 2>&1); rc=$?
expect "--help exits 0" [ $rc -eq 0 ]
expect "--help shows usage" grep -q "^usage: scripts/download-gpt2.sh" <<<"$out"
out=$("$script" 999M 2>&1); rc=$?
expect "unknown size exits 2" [ $rc -eq 2 ]
expect "unknown size message" grep -qF "unknown model size '999M' (known: 124M, 355M, 774M, 1558M)" <<<"$out"
out=$("$script" 124M 355M 2>&1); rc=$?
expect "two sizes exit 2" [ $rc -eq 2 ]

# Nothing listens on port 9 here: curl fails at once with "connection refused".
out=$(LORAFIT_HF_BASE_URL=http://127.0.0.1:9 "$script" -o "$tmp/unreachable" 2>&1); rc=$?
expect "unreachable host exits 1" [ $rc -eq 1 ]
expect "unreachable host message: $out" grep -qF "download-gpt2.sh: cannot download http://127.0.0.1:9/openai-community/gpt2/resolve/main/vocab.json: cannot connect to the host (curl exit 7)" <<<"$out"
expect "nothing left after a failed download" [ -z "$(ls -A "$tmp/unreachable")" ]

# A fake server tree.
srv=$tmp/hf
for r in gpt2 gpt2-medium; do
    d=$srv/openai-community/$r/resolve/main
    mkdir -p "$d"
    printf '{"n_layer": 2}\n' >"$d/config.json"
    printf 'not the vocabulary\n' >"$d/vocab.json"
    printf '#version: 0.2\n' >"$d/merges.txt"
    head -c 70000 /dev/urandom >"$d/model.safetensors"
done
export LORAFIT_HF_BASE_URL=file://$srv

out=$("$script" 355M -o "$tmp/medium" 2>&1); rc=$?
expect "355M from file:// exits 0: $out" [ $rc -eq 0 ]
for f in config.json vocab.json merges.txt model.safetensors; do
    expect "355M $f in place" cmp -s "$srv/openai-community/gpt2-medium/resolve/main/$f" "$tmp/medium/$f"
done
want=$(sha256sum "$srv/openai-community/gpt2-medium/resolve/main/model.safetensors" | cut -d' ' -f1)
expect "355M prints the computed sha256" grep -qF "model.safetensors: 70000 bytes, sha256 $want (no published checksum recorded; not checked)" <<<"$out"
expect "355M warns about a tokenizer unlike gpt2's" grep -qF "vocab.json: 19 bytes, sha256" <<<"$out"
expect "no .part left" [ -z "$(ls "$tmp/medium" | grep '\.part$')" ]
out=$("$script" 355M -o "$tmp/medium" 2>&1); rc=$?
expect "second run exits 0" [ $rc -eq 0 ]
expect "second run fetches nothing" bash -c '! grep -q "^fetching" <<<"$1"' _ "$out"

# 124M: its sizes and checksums are known.
d=$srv/openai-community/gpt2/resolve/main
if [ -f "$src/data/gpt2/encoder.json" ] && [ -f "$src/data/gpt2/vocab.bpe" ]; then
    cp "$src/data/gpt2/encoder.json" "$d/vocab.json"
    cp "$src/data/gpt2/vocab.bpe" "$d/merges.txt"
    head -c 665 /dev/zero | tr '\0' ' ' >"$d/config.json" # right size, wrong bytes
    out=$("$script" -o "$tmp/small" 2>&1); rc=$?
    expect "124M with a wrong config.json exits 1" [ $rc -eq 1 ]
    expect "vocab.json checked: $out" grep -qF "vocab.json: 1042301 bytes, sha256 196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783 (checked)" <<<"$out"
    expect "merges.txt checked" grep -qF "merges.txt: 456318 bytes, sha256 1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5 (checked)" <<<"$out"
    expect "vocab.json in place" [ -f "$tmp/small/vocab.json" ]
    expect "checksum mismatch message" grep -qF "download-gpt2.sh: config.json: checksum mismatch, the download is corrupt or not the published file; removed $tmp/small/config.json.part" <<<"$out"
    expect "corrupt .part removed" [ ! -e "$tmp/small/config.json.part" ]
    expect "no config.json" [ ! -e "$tmp/small/config.json" ]
fi
printf '{"n_layer": 2}\n' >"$d/config.json"
out=$("$script" -o "$tmp/small2" 2>&1); rc=$?
expect "124M with a short file exits 1" [ $rc -eq 1 ]
expect "short file message: $out" grep -qF "is kept, run again to resume" <<<"$out"
expect "no config.json" [ ! -e "$tmp/small2/config.json" ]

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
