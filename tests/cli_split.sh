#!/usr/bin/env bash
# cli_split.sh - `lorafit split` on the fixtures: exit codes, exact error
# messages, nothing left behind on failure, identical files on a rerun.
set -u
BIN=${LORAFIT_BIN:?LORAFIT_BIN is not set}
SRC=${LORAFIT_SOURCE_DIR:-.}
FIX=$SRC/tests/fixtures/csv
TMP=${LORAFIT_TMP:-/tmp}/cli_split.$$
rm -rf "$TMP" && mkdir -p "$TMP" || exit 1
trap 'rm -rf "$TMP"' EXIT
fails=0 passes=0

ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect CODE WANT_STDERR_FIRST_LINE ARGS...: runs split, checks the exit
# code and the first line of stderr.
expect() {
    local code=$1 want=$2; shift 2
    "$BIN" split "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ "$rc" -eq "$code" ] && ok || bad "split $*: exit $rc, want $code"
    local got; got=$(head -n 1 "$TMP/err")
    [ "$got" = "$want" ] && ok || bad "split $*: stderr
  got:  $got
  want: $want"
}

# expect_input_error FIXTURE MESSAGE [ARGS...]: exit 2, the message, no output dir.
expect_input_error() {
    local f=$FIX/$1 msg=$2; shift 2
    rm -rf "$TMP/o"
    expect 2 "lorafit split: $f$msg" "$f" --out-dir "$TMP/o" "$@"
    [ ! -e "$TMP/o" ] && ok || bad "$1: $TMP/o was created"
}

# --- usage ---------------------------------------------------------------
"$BIN" split --help >"$TMP/out" && grep -q -- '--balance' "$TMP/out" && ok || bad "--help"
expect 2 "lorafit split: no input file given" --out-dir "$TMP/o"
expect 2 "lorafit split: --out is required" "$FIX/labs_train.csv"
expect 2 "lorafit split: --train 0.8 and --val 0.3 add up to more than 1" \
    "$FIX/labs_train.csv" --out-dir "$TMP/o" --train 0.8 --val 0.3
expect 2 "lorafit split: option '--format' expects one of csv, tsv, got 'xls'" \
    "$FIX/labs_train.csv" --out-dir "$TMP/o" --format xls
expect 2 "lorafit split: option '--labels': an empty class name in 'ham,'" \
    "$FIX/labs_train.csv" --out-dir "$TMP/o" --labels ham,

# --- one malformed file per error -----------------------------------------
expect_input_error err_unterminated_quote.csv \
    ":3:6: unterminated quote: the quoted field that starts here is never closed"
expect_input_error err_too_many_fields.csv \
    ":3:10: wrong number of fields: expected 2 (as in line 1), found 3"
expect_input_error err_too_few_fields.csv \
    ":3:5: wrong number of fields: expected 2 (as in line 1), found 1"
expect_input_error err_empty_text.csv ":3:6: empty text (column 1, 'Text')"
expect_input_error err_unknown_label.csv \
    ":4:1: unknown label 'eggs'; expected one of ham, spam (or a class id 0 to 1)" --labels ham,spam
expect_input_error err_empty.csv ":1:1: no rows: the file is empty"
expect_input_error err_header_only.csv ":2:1: no data rows after the header"
expect_input_error err_binary.csv ":2:7: NUL byte; this looks like a binary file, not CSV text"
rm -rf "$TMP/o"
expect 2 "lorafit split: cannot open $FIX/missing.csv: No such file or directory" \
    "$FIX/missing.csv" --out-dir "$TMP/o"
[ ! -e "$TMP/o" ] && ok || bad "missing input: $TMP/o was created"
expect 2 "lorafit split: cannot read $FIX: Is a directory" "$FIX" --out-dir "$TMP/o"
# A class missing from the file cannot be balanced.
printf 'Label,Text\nham,a\nham,b\n' >"$TMP/one.csv"
expect 2 "lorafit split: $TMP/one.csv: cannot balance: the rows are all of one class" \
    "$TMP/one.csv" --out-dir "$TMP/o" --balance
[ ! -e "$TMP/o" ] && ok || bad "one class: $TMP/o was created"

# An existing output directory is left as it was.
mkdir -p "$TMP/keep" && touch "$TMP/keep/mine"
"$BIN" split "$FIX/err_binary.csv" --out-dir "$TMP/keep" 2>/dev/null
[ "$(ls -A "$TMP/keep")" = "mine" ] && ok || bad "existing dir changed: $(ls -A "$TMP/keep")"
# An output "directory" that is a file: a write failure, exit 1.
expect 1 "lorafit split: cannot create the output directory $TMP/keep/mine: Not a directory" \
    "$FIX/labs_train.csv" --out-dir "$TMP/keep/mine"
# The input among the files to write: refused, the input kept.
mkdir -p "$TMP/self" && cp "$FIX/labs_train.csv" "$TMP/self/train.csv"
expect 2 "lorafit split: $TMP/self/train.csv is the input: the split would replace it; choose another --out" \
    "$TMP/self/train.csv" --out-dir "$TMP/self"
cmp -s "$FIX/labs_train.csv" "$TMP/self/train.csv" && [ "$(ls -A "$TMP/self")" = "train.csv" ] && ok \
    || bad "split over its own input changed $TMP/self: $(ls -A "$TMP/self")"

# --- success --------------------------------------------------------------
# 5 rows: train floor(3.5) = 3, validation floor(0.5) = 0, test 2.
expect 0 "" "$FIX/labs_train.csv" --out-dir "$TMP/a"
for f in train validation test; do
    [ "$(head -n 1 "$TMP/a/$f.csv")" = "Label,Text" ] && ok || bad "$f.csv header"
done
[ "$(grep -c '' "$TMP/a/validation.csv")" -eq 1 ] && ok || bad "validation.csv should hold only the header"
grep -q '^wrote .*/train.csv: 3 rows: 0 2, 1 1$\|^wrote .*/train.csv: 3 rows: 0 1, 1 2$' "$TMP/out" \
    && ok || bad "report: $(cat "$TMP/out")"
[ -z "$(ls -A "$TMP/a" | grep -v -x -e train.csv -e validation.csv -e test.csv)" ] && ok \
    || bad "stray files: $(ls -A "$TMP/a")"
# Every input row is in exactly one output file: the embedded newline row
# comes through quoted, byte for byte.
cat "$TMP/a/train.csv" "$TMP/a/test.csv" | grep -c '^0,"Line one$' | grep -qx 1 && ok || bad "multiline row"
cat "$TMP/a/train.csv" "$TMP/a/test.csv" | grep -qx 'line two, with a comma"' && ok || bad "multiline row end"
"$BIN" split "$FIX/labs_train.csv" --out-dir "$TMP/b" >/dev/null
cmp -s "$TMP/a/train.csv" "$TMP/b/train.csv" && cmp -s "$TMP/a/test.csv" "$TMP/b/test.csv" \
    && ok || bad "a rerun differs"

# An earlier split is kept unless --force: a rerun with another seed is
# refused, files untouched; with --force it replaces all three.
before=$(cat "$TMP/b/train.csv" "$TMP/b/validation.csv" "$TMP/b/test.csv" | md5sum)
expect 2 "lorafit split: $TMP/b/train.csv already exists; pass --force to replace it" \
    "$FIX/labs_train.csv" --out-dir "$TMP/b" --seed 9
[ "$(cat "$TMP/b/train.csv" "$TMP/b/validation.csv" "$TMP/b/test.csv" | md5sum)" = "$before" ] && ok \
    || bad "a refused rerun changed the files"
[ -z "$(ls -A "$TMP/b" | grep -v -x -e train.csv -e validation.csv -e test.csv)" ] && ok \
    || bad "a refused rerun left files: $(ls -A "$TMP/b")"
rm "$TMP/b/train.csv"
expect 2 "lorafit split: $TMP/b/validation.csv already exists; pass --force to replace it" \
    "$FIX/labs_train.csv" --out-dir "$TMP/b" --seed 9
"$BIN" split "$FIX/labs_train.csv" --out-dir "$TMP/b" --seed 9 --force >/dev/null 2>&1 && ok || bad "--force"
[ -s "$TMP/b/train.csv" ] && [ "$(cat "$TMP/b/validation.csv" "$TMP/b/test.csv" | md5sum)" != \
    "$(cat "$TMP/a/validation.csv" "$TMP/a/test.csv" | md5sum)" ] && ok || bad "--force did not replace the files"

# ham/spam names by default, ids with --label-ids; a latin-1 byte warns.
expect 0 "lorafit split: warning: $FIX/spam_v1v2.csv: 1 row is not valid UTF-8 (line 4); the bytes are kept as they are" \
    "$FIX/spam_v1v2.csv" --out-dir "$TMP/c" --train 1 --val 0
[ "$(cut -d, -f1 "$TMP/c/train.csv" | grep -E '^(ham|spam)$' | sort | uniq -c | tr -s ' ')" = " 3 ham
 1 spam" ] && ok || bad "spam.csv labels: $(cut -d, -f1 "$TMP/c/train.csv")"
grep -q $'^ham,caf\xe9 at 5?$' "$TMP/c/train.csv" && ok || bad "latin-1 bytes kept"
"$BIN" split "$FIX/spam_v1v2.csv" --out-dir "$TMP/d" --train 1 --val 0 --label-ids >/dev/null 2>&1
[ "$(cut -d, -f1 "$TMP/d/train.csv" | grep -E '^[01]$' | sort | tr '\n' ' ')" = "0 0 0 1 " ] && ok \
    || bad "--label-ids: $(cut -d, -f1 "$TMP/d/train.csv")"
# The split's output reads back as the same split (labels and texts survive).
"$BIN" split "$TMP/c/train.csv" --out-dir "$TMP/e" --train 1 --val 0 --seed 5 >/dev/null 2>&1 \
    && ok || bad "re-reading train.csv"
[ "$(sort "$TMP/c/train.csv" | md5sum)" = "$(sort "$TMP/e/train.csv" | md5sum)" ] && ok \
    || bad "re-split rows differ"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
