#!/usr/bin/env bash
# download-sms.sh - the SMS Spam Collection v.1 (UCI Machine Learning
# Repository, dataset 228, CC BY 4.0), checked, into a directory.
#
#   scripts/download-sms.sh [DIR]     (default: out/sms_spam)
#
# Leaves DIR/SMSSpamCollection (477,907 bytes, 5,574 lines "label<TAB>text"),
# checked against its published SHA-256: copied from data/sms_spam/ (the
# copy committed with lorafit; see data/README.md), or, where that is missing,
# downloaded from UCI. Nothing is left half-written: the archive goes to a
# temporary directory and the file is renamed into place.
set -euo pipefail
prog=download-sms.sh
url=${LORAFIT_SMS_URL:-https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip}
sha256=7d039a24a6083ed9ef0f806ebad56bbb976e3aeb8de05669173bfdc4996c239d

case "${1:-}" in
-h | --help)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 0 ;;
-*) echo "$prog: unknown option '$1'" >&2; exit 2 ;;
esac
dir=${1:-out/sms_spam}
target=$dir/SMSSpamCollection

check() { echo "$sha256  $1" | sha256sum --check --status; }

if [ -f "$target" ] && check "$target"; then
    echo "$prog: $target is already there and checks out"
    exit 0
fi
committed=$(dirname "$0")/../data/sms_spam/SMSSpamCollection
if [ -f "$committed" ] && check "$committed"; then
    mkdir -p "$dir"
    cp "$committed" "$target.tmp" && mv "$target.tmp" "$target"
    echo "$prog: wrote $target (the copy committed in data/sms_spam)"
    exit 0
fi
for tool in curl unzip sha256sum; do
    command -v "$tool" >/dev/null || { echo "$prog: needs $tool (apt-get install $tool)" >&2; exit 1; }
done
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.download-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "$prog: fetching $url"
if ! curl -fL --retry 3 --connect-timeout 20 -o "$tmp/sms.zip" "$url"; then
    echo "$prog: could not download $url" >&2
    echo "$prog: fetch it by other means and unzip SMSSpamCollection into $dir/" >&2
    exit 1
fi
unzip -q -o "$tmp/sms.zip" SMSSpamCollection -d "$tmp"
if ! check "$tmp/SMSSpamCollection"; then
    echo "$prog: the downloaded SMSSpamCollection does not have the published SHA-256 $sha256" >&2
    exit 1
fi
mv "$tmp/SMSSpamCollection" "$target"
echo "$prog: wrote $target"
