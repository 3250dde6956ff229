#!/usr/bin/env bash
# download-gpt2.sh - fetch a published GPT-2 checkpoint from Hugging Face.
#
#   scripts/download-gpt2.sh [--out DIR] [--tokenizer-json] [124M|355M|774M|1558M]
#
# Fetches model.safetensors, config.json, vocab.json and merges.txt (and
# tokenizer.json with --tokenizer-json) of openai-community/gpt2,
# gpt2-medium, gpt2-large or gpt2-xl into models/<name>/ (gpt2-small,
# gpt2-medium, gpt2-large, gpt2-xl). Each file is downloaded to <file>.part,
# resumably (run the script again after an interruption), checked against
# the published size and SHA-256 where we know them, and only then renamed
# into place. A file already in place is checked again and skipped.
#
# Environment: LORAFIT_HF_BASE_URL (default https://huggingface.co; a
# file:// URL works too), LORAFIT_HF_REVISION (default main).
set -euo pipefail

prog=download-gpt2.sh
# shellcheck source=scripts/download-lib.sh
. "$(dirname "$0")/download-lib.sh"
base_url=${LORAFIT_HF_BASE_URL:-https://huggingface.co}
revision=${LORAFIT_HF_REVISION:-main}

usage() {
    cat <<EOF
usage: scripts/$prog [--out DIR] [--tokenizer-json] [124M|355M|774M|1558M]

Downloads a GPT-2 checkpoint (model.safetensors, config.json, vocab.json,
merges.txt) from Hugging Face into models/<name>/, resumably, and checks
sizes and SHA-256 checksums where they are known.

  124M  (default) openai-community/gpt2         -> models/gpt2-small   (~548 MB)
  355M            openai-community/gpt2-medium  -> models/gpt2-medium  (~1.5 GB)
  774M            openai-community/gpt2-large   -> models/gpt2-large   (~3.2 GB)
  1558M           openai-community/gpt2-xl      -> models/gpt2-xl      (~6.4 GB)

options:
  -o, --out DIR       put the files in DIR instead
      --tokenizer-json  also fetch tokenizer.json
  -h, --help          show this help

environment:
  LORAFIT_HF_BASE_URL  server to fetch from (default https://huggingface.co)
  LORAFIT_HF_REVISION  branch, tag or commit of the repository (default main)
EOF
}

size="" out="" with_tokenizer_json=0
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) usage; exit 0 ;;
    -o | --out) [ $# -ge 2 ] || die "$1 needs a directory"; out=$2; shift ;;
    --out=*) out=${1#--out=} ;;
    --tokenizer-json) with_tokenizer_json=1 ;;
    -*) echo "$prog: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) [ -z "$size" ] || { echo "$prog: more than one model size given" >&2; exit 2; }; size=$1 ;;
    esac
    shift
done

case "${size:-124M}" in
124M | gpt2 | gpt2-small) repo=openai-community/gpt2 name=gpt2-small ;;
355M | gpt2-medium) repo=openai-community/gpt2-medium name=gpt2-medium ;;
774M | gpt2-large) repo=openai-community/gpt2-large name=gpt2-large ;;
1558M | gpt2-xl) repo=openai-community/gpt2-xl name=gpt2-xl ;;
*) echo "$prog: unknown model size '$size' (known: 124M, 355M, 774M, 1558M)" >&2; exit 2 ;;
esac
out=${out:-models/$name}

# Published sizes and SHA-256 (of openai-community/gpt2 at revision
# 607a30d783dfa663caf39e06633721c8d4cfcd7e, which main pointed to when these
# were recorded). The other sizes' values are not recorded here: their
# checksums are computed and printed, not checked. vocab.json and merges.txt
# are the same for every GPT-2 size, so theirs are compared as a warning.
expected() { # file -> "size sha256", or nothing when unknown
    case "$name/$1" in
    gpt2-small/model.safetensors) echo "548105171 248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707" ;;
    gpt2-small/config.json) echo "665 0daed7749b4f02b8f76240d5444551d7b08712dab4d0adb8239c56ba823bb7b4" ;;
    gpt2-small/vocab.json) echo "1042301 196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783" ;;
    gpt2-small/merges.txt) echo "456318 1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5" ;;
    gpt2-small/tokenizer.json) echo "1355256 8414cab924d8b9b33013f0d221c5862f365ee9be39c5c2bfae8a5a9e970478a6" ;;
    esac
}
shared_tokenizer() { # the gpt2-small values of files every size shares
    case "$1" in
    vocab.json) echo "1042301 196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783" ;;
    merges.txt) echo "456318 1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5" ;;
    esac
}

# Every GPT-2 size shares the tokenizer files: a differing one is worth a warning.
unchecked() { # file size sha256
    local shared
    shared=$(shared_tokenizer "$1")
    if [ -n "$shared" ] && [ "$3" != "${shared#* }" ]; then
        echo "  $1: $2 bytes, sha256 $3: warning: differs from gpt2's $1" \
            "(${shared#* }), which every GPT-2 size should share"
    else
        echo "  $1: $2 bytes, sha256 $3 (no published checksum recorded; not checked)"
    fi
}

download_init
mkdir -p "$out" || die "cannot create $out"
echo "$repo ($revision) -> $out"
files="vocab.json merges.txt config.json"
[ "$with_tokenizer_json" = 1 ] && files="$files tokenizer.json"
for f in $files model.safetensors; do
    download_fetch "$f" "$base_url/$repo/resolve/$revision/$f"
done
echo "done: $out"
