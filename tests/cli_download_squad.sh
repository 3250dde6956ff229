#!/usr/bin/env bash
# cli_download_squad.sh - scripts/download-squad.sh without the network: its
# arguments, its message when the host cannot be reached, and its checks on
# files served from a file:// tree made here. The files served are the
# synthetic SQuAD fixtures; their sizes and checksums, computed here with
# sha256sum, stand in for the published ones through LORAFIT_SQUAD_EXPECTED,
# and without it the script must reject them against the real table.
. "${LORAFIT_SOURCE_DIR:-.}/tests/lib.sh"
src=${LORAFIT_SOURCE_DIR:-.}
tmp=$TMP
script=$src/scripts/download-squad.sh
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
command -v sha256sum >/dev/null || { echo "SKIP: sha256sum not installed"; exit 77; }

out=$("$script" --help 2>&1); rc=$?
expect_that "--help exits 0" [ $rc -eq 0 ]
expect_that "--help shows usage" grep -q "^usage: scripts/download-squad.sh" <<<"$out"
out=$("$script" v3 2>&1); rc=$?
expect_that "unknown version exits 2" [ $rc -eq 2 ]
expect_that "unknown version message" grep -qF "unknown version 'v3' (known: v1.1, v2.0, all)" <<<"$out"
out=$("$script" v1.1 v2.0 2>&1); rc=$?
expect_that "two versions exit 2" [ $rc -eq 2 ]

# Nothing listens on port 9 here: curl fails at once with "connection refused".
out=$(LORAFIT_SQUAD_BASE_URL=http://127.0.0.1:9 "$script" -o "$tmp/unreachable" 2>&1); rc=$?
expect_that "unreachable host exits 1" [ $rc -eq 1 ]
expect_that "unreachable host message: $out" grep -qF "download-squad.sh: cannot download http://127.0.0.1:9/train-v1.1.json: cannot connect to the host (curl exit 7)" <<<"$out"
expect_that "nothing left after a failed download" [ -z "$(ls -A "$tmp/unreachable")" ]

# A fake server: the synthetic fixtures under the official names.
srv=$tmp/srv
mkdir -p "$srv"
cp "$src/tests/fixtures/lm/synthetic_lookup_train.json" "$srv/train-v1.1.json"
cp "$src/tests/fixtures/lm/synthetic_lookup_dev.json" "$srv/dev-v1.1.json"
export LORAFIT_SQUAD_BASE_URL=file://$srv
size() { wc -c <"$1" | tr -d ' '; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
train_size=$(size "$srv/train-v1.1.json") train_sum=$(sum "$srv/train-v1.1.json")
dev_size=$(size "$srv/dev-v1.1.json") dev_sum=$(sum "$srv/dev-v1.1.json")

# Against the real table the fixtures are the wrong size: kept to resume, not renamed.
out=$("$script" -o "$tmp/real" 2>&1); rc=$?
expect_that "wrong size exits 1" [ $rc -eq 1 ]
expect_that "wrong size message: $out" grep -qF "train-v1.1.json: $train_size bytes, expected 30288272" <<<"$out"
expect_that "kept to resume" grep -qF "train-v1.1.json: the download is incomplete or not the published file; $tmp/real/train-v1.1.json.part is kept, run again to resume" <<<"$out"
expect_that "not in place" [ ! -e "$tmp/real/train-v1.1.json" ]

printf 'train-v1.1.json %s %s\ndev-v1.1.json %s %s\n' "$train_size" "$train_sum" "$dev_size" "$dev_sum" >"$tmp/expected"
export LORAFIT_SQUAD_EXPECTED=$tmp/expected
mkdir -p "$tmp/ok"
head -c 1000 "$srv/train-v1.1.json" >"$tmp/ok/train-v1.1.json.part" # an interrupted download
out=$("$script" -o "$tmp/ok" 2>&1); rc=$?
expect_that "download exits 0: $out" [ $rc -eq 0 ]
expect_that "train resumed and in place" cmp -s "$srv/train-v1.1.json" "$tmp/ok/train-v1.1.json"
expect_that "dev in place" cmp -s "$srv/dev-v1.1.json" "$tmp/ok/dev-v1.1.json"
expect_that "checked" grep -qF "dev-v1.1.json: $dev_size bytes, sha256 $dev_sum (checked)" <<<"$out"
expect_that "no .part left" [ -z "$(ls "$tmp/ok" | grep '\.part$')" ]
out=$("$script" -o "$tmp/ok" 2>&1); rc=$?
expect_that "second run exits 0" [ $rc -eq 0 ]
expect_that "second run fetches nothing" bash -c '! grep -q "^fetching" <<<"$1"' _ "$out"

# The right size with other bytes: a corrupt download, removed.
printf 'train-v1.1.json %s %s\n' "$train_size" "$dev_sum" >"$tmp/expected"
out=$("$script" -o "$tmp/corrupt" 2>&1); rc=$?
expect_that "checksum mismatch exits 1" [ $rc -eq 1 ]
expect_that "checksum mismatch message: $out" grep -qF "download-squad.sh: train-v1.1.json: checksum mismatch, the download is corrupt or not the published file; removed $tmp/corrupt/train-v1.1.json.part" <<<"$out"
expect_that "corrupt .part removed" [ ! -e "$tmp/corrupt/train-v1.1.json.part" ]

finish
