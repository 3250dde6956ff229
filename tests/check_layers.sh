#!/usr/bin/env bash
# check_layers.sh - the source tree's layering holds: a file under src/<layer>/
# or include/lorafit/<layer>/ includes lorafit headers of its own layer and of
# lower layers only, and every source file is in the CMake list of its layer.
# Layers, lowest first (the order of CMakeLists.txt and the README's layer map):
#   util < data < engine < io < report < cli
# A self-check first runs the checker on a planted violation, so a checker that
# finds nothing cannot pass silently.
set -u
cd "${LORAFIT_SOURCE_DIR:-.}"
LAYERS=(util data engine io report cli)
passed=0
failed=0

rank() { local i; for i in "${!LAYERS[@]}"; do [ "${LAYERS[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }

# violations ROOT: prints "file: includes lorafit/<layer>/x.h (layer above <layer>)" per bad include.
violations() {
  local root=$1 f layer r inc il ir
  while IFS= read -r f; do
    layer=${f#"$root"/}; layer=${layer%%/*}; r=$(rank "$layer")
    if [ "$r" -lt 0 ]; then echo "$f: not in a layer folder"; continue; fi
    while IFS= read -r inc; do
      il=${inc#lorafit/}; il=${il%%/*}; ir=$(rank "$il")
      if [ "$ir" -lt 0 ]; then echo "$f: includes $inc, which is in no layer"
      elif [ "$ir" -gt "$r" ]; then echo "$f: includes $inc ($il is above $layer)"; fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\(lorafit\/[^"]*\)".*/\1/p' "$f")
  done < <(find "$root" -name '*.[ch]' | sort)
}

# Self-check: a planted upward include must be reported.
plant=$(mktemp -d)
mkdir -p "$plant/src/util" "$plant/src/cli"
printf '#include "lorafit/cli/cli.h"\n' > "$plant/src/util/bad.c"
printf '#include "lorafit/util/error.h"\n' > "$plant/src/cli/good.c"
got=$(violations "$plant/src")
rm -rf "$plant"
if [ "$got" = "$plant/src/util/bad.c: includes lorafit/cli/cli.h (cli is above util)" ]; then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); echo "FAIL: the checker missed a planted violation; it printed: $got" >&2
fi

for root in src include/lorafit; do
  bad=$(violations "$root")
  if [ -z "$bad" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); printf 'FAIL: layering in %s:\n%s\n' "$root" "$bad" >&2; fi
done

# Every .c under src/ (but main.c) is listed in CMakeLists.txt, in its own layer's list.
for f in $(find src -name '*.c' ! -name main.c | sort); do
  layer=${f#src/}; layer=${layer%%/*}; list=$(echo "$layer" | tr a-z A-Z)
  if awk -v want="set(LORAFIT_${list}_SOURCES" -v f="$f" '
       index($0, want) == 1 { inside = 1; next }
       inside && /^\)/ { inside = 0 }
       inside && $1 == f { found = 1 }
       END { exit !found }' CMakeLists.txt; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAIL: $f is not in LORAFIT_${list}_SOURCES in CMakeLists.txt" >&2
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
