#!/usr/bin/env bash
# cli_split_uci.sh - `lorafit split --balance` on the UCI file in ../shared:
# the issue's sizes (747 + 747 = 1,494 -> 1,045 / 149 / 300) and
# byte-identical files on a rerun. Skips (77) when ../shared is absent.
set -u
BIN=${LORAFIT_BIN:?LORAFIT_BIN is not set}
UCI=${LORAFIT_SHARED:-../shared}/data/sms_spam/SMSSpamCollection
[ -r "$UCI" ] || { echo "SKIP: $UCI is absent"; exit 77; }
TMP=${LORAFIT_TMP:-/tmp}/cli_split_uci.$$
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1
trap 'rm -rf "$TMP"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

"$BIN" split "$UCI" --out-dir "$TMP/a" --balance >"$TMP/report" 2>"$TMP/err" && ok || bad "exit $?: $(cat "$TMP/err")"
[ ! -s "$TMP/err" ] && ok || bad "stderr: $(cat "$TMP/err")"
grep -qx "read $UCI: 5574 rows (tsv, no header): ham 4827, spam 747" "$TMP/report" && ok \
    || bad "report: $(head -n 1 "$TMP/report")"
grep -qx "balanced: 1494 rows: ham 747, spam 747" "$TMP/report" && ok || bad "balanced line"
# No UCI message holds a line break, so lines = rows + the header.
for want in train:1045 validation:149 test:300; do
    f=${want%%:*} n=${want#*:}
    lines=$(wc -l <"$TMP/a/$f.csv")
    [ "$lines" -eq $((n + 1)) ] && ok || bad "$f.csv: $((lines - 1)) rows, want $n"
    [ "$(head -n 1 "$TMP/a/$f.csv")" = "Label,Text" ] && ok || bad "$f.csv header"
done
spam=$(cat "$TMP"/a/*.csv | grep -c '^spam,')
ham=$(cat "$TMP"/a/*.csv | grep -c '^ham,')
[ "$spam" -eq 747 ] && [ "$ham" -eq 747 ] && ok || bad "ham $ham spam $spam"

"$BIN" split "$UCI" --out-dir "$TMP/b" --balance >/dev/null 2>&1
(cd "$TMP/a" && sha256sum train.csv validation.csv test.csv) >"$TMP/sum.a"
(cd "$TMP/b" && sha256sum train.csv validation.csv test.csv) >"$TMP/sum.b"
cmp -s "$TMP/sum.a" "$TMP/sum.b" && ok || bad "a rerun differs"
"$BIN" split "$UCI" --out-dir "$TMP/c" --balance --seed 7 >/dev/null 2>&1
cmp -s "$TMP/a/train.csv" "$TMP/c/train.csv" && bad "--seed 7 gives the same train.csv" || ok

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
