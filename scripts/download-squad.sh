#!/usr/bin/env bash
# download-squad.sh - fetch SQuAD v1.1 and/or v2.0 (train and dev) from the
# official site, checked.
#
#   scripts/download-squad.sh [--out DIR] [v1.1|v2.0|all]
#
# Fetches train-v1.1.json and dev-v1.1.json (v1.1, the default), or
# train-v2.0.json and dev-v2.0.json (v2.0), or all four, into out/squad/.
# Each file is downloaded to <file>.part, resumably (run the script again
# after an interruption), checked against its published size and SHA-256,
# and only then renamed into place. A file already in place is checked again
# and skipped. The files are CC BY-SA 4.0 (Rajpurkar et al., 2016, 2018).
#
# Environment: LORAFIT_SQUAD_BASE_URL (default
# https://rajpurkar.github.io/SQuAD-explorer/dataset; a file:// URL works
# too), LORAFIT_SQUAD_EXPECTED (a file of "NAME SIZE SHA256" lines that
# replaces the table below, for a mirror with other files, and for tests).
set -euo pipefail

prog=download-squad.sh
# shellcheck source=scripts/download-lib.sh
. "$(dirname "$0")/download-lib.sh"
base_url=${LORAFIT_SQUAD_BASE_URL:-https://rajpurkar.github.io/SQuAD-explorer/dataset}

usage() {
    cat <<EOF
usage: scripts/$prog [--out DIR] [v1.1|v2.0|all]

Downloads the SQuAD question-answering data set from its official site into
out/squad/, resumably, and checks sizes and SHA-256 checksums.

  v1.1  (default) train-v1.1.json (30 MB), dev-v1.1.json (4.9 MB)
  v2.0            train-v2.0.json (42 MB), dev-v2.0.json (4.4 MB)
  all             the four files

options:
  -o, --out DIR       put the files in DIR instead
  -h, --help          show this help

environment:
  LORAFIT_SQUAD_BASE_URL  where to fetch from (default $base_url)
  LORAFIT_SQUAD_EXPECTED  a file of "NAME SIZE SHA256" lines to check against instead
EOF
}

version="" out=""
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) usage; exit 0 ;;
    -o | --out) [ $# -ge 2 ] || die "$1 needs a directory"; out=$2; shift ;;
    --out=*) out=${1#--out=} ;;
    -*) echo "$prog: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) [ -z "$version" ] || { echo "$prog: more than one version given" >&2; exit 2; }; version=$1 ;;
    esac
    shift
done

case "${version:-v1.1}" in
v1.1 | 1.1) files="train-v1.1.json dev-v1.1.json" ;;
v2.0 | 2.0) files="train-v2.0.json dev-v2.0.json" ;;
all) files="train-v1.1.json dev-v1.1.json train-v2.0.json dev-v2.0.json" ;;
*) echo "$prog: unknown version '$version' (known: v1.1, v2.0, all)" >&2; exit 2 ;;
esac
out=${out:-out/squad}

# The published files' sizes and SHA-256, as Hugging Face's `squad` and
# `squad_v2` dataset scripts and ParlAI record them.
expected() { # file -> "size sha256", or nothing when unknown
    if [ -n "${LORAFIT_SQUAD_EXPECTED:-}" ]; then
        awk -v f="$1" '$1 == f { print $2, $3 }' "$LORAFIT_SQUAD_EXPECTED"
        return
    fi
    case "$1" in
    train-v1.1.json) echo "30288272 3527663986b8295af4f7fcdff1ba1ff3f72d07d61a20f487cb238a6ef92fd955" ;;
    dev-v1.1.json) echo "4854279 95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9" ;;
    train-v2.0.json) echo "42123633 68dcfbb971bd3e96d5b46c7177b16c1a4e7d4bdef19fb204502738552dede002" ;;
    dev-v2.0.json) echo "4370528 80a5225e94905956a6446d296ca1093975c4d3b3260f1d6c8f68bc2ab77182d8" ;;
    esac
}

download_init
mkdir -p "$out" || die "cannot create $out"
echo "SQuAD ${version:-v1.1} -> $out"
for f in $files; do
    download_fetch "$f" "$base_url/$f"
done
echo "done: $out"
