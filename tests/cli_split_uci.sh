#!/usr/bin/env bash
# cli_split_uci.sh - `lorafit split --balance` on the UCI file (data/sms_spam/):
# the issue's sizes (747 + 747 = 1,494 -> 1,045 / 149 / 300) and
# byte-identical files on a rerun. Skips (77) when a checkout lacks the file.
. "$(dirname "$0")/lib.sh"
require_sms

run split "$SMS" --out-dir "$TMP/a" --balance
[ "$rc" -eq 0 ] && pass || fail "exit $rc: $err"
[ -z "$err" ] && pass || fail "stderr: $err"
grep -qx "read $SMS: 5574 rows (tsv, no header): ham 4827, spam 747" "$TMP/out" && pass \
    || fail "report: $(head -n 1 "$TMP/out")"
grep -qx "balanced: 1494 rows: ham 747, spam 747" "$TMP/out" && pass || fail "balanced line"
# No UCI message holds a line break, so lines = rows + the header.
for want in train:1045 validation:149 test:300; do
    f=${want%%:*} n=${want#*:}
    lines=$(wc -l <"$TMP/a/$f.csv")
    [ "$lines" -eq $((n + 1)) ] && pass || fail "$f.csv: $((lines - 1)) rows, want $n"
    [ "$(head -n 1 "$TMP/a/$f.csv")" = "Label,Text" ] && pass || fail "$f.csv header"
done
spam=$(cat "$TMP"/a/*.csv | grep -c '^spam,')
ham=$(cat "$TMP"/a/*.csv | grep -c '^ham,')
[ "$spam" -eq 747 ] && [ "$ham" -eq 747 ] && pass || fail "ham $ham spam $spam"

run split "$SMS" --out-dir "$TMP/b" --balance
(cd "$TMP/a" && sha256sum train.csv validation.csv test.csv) >"$TMP/sum.a"
(cd "$TMP/b" && sha256sum train.csv validation.csv test.csv) >"$TMP/sum.b"
cmp -s "$TMP/sum.a" "$TMP/sum.b" && pass || fail "a rerun differs"
run split "$SMS" --out-dir "$TMP/c" --balance --seed 7
cmp -s "$TMP/a/train.csv" "$TMP/c/train.csv" && fail "--seed 7 gives the same train.csv" || pass

finish
