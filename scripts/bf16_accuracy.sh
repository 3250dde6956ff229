#!/usr/bin/env bash
# bf16_accuracy.sh - scripts/quant_accuracy.sh's runs (the README's demo:
# random GPT-2, 4 layers, width 128; the labs' balanced split; 2 epochs at
# lr 1e-3; three seeds) with the base in fp32 and in bf16. Issue 13 asks
# bf16 to stay within 1 point of fp32. On a CPU without AVX512-BF16 or AMX
# the bf16 runs use the reference GEMMs (LORAFIT_BF16_BACKEND=reference: the
# same arithmetic as oneDNN's up to the order of the sums); it says which.
#   bash scripts/bf16_accuracy.sh [build/lorafit] [workdir]
set -eu
BIN=$(realpath "${1:-build/lorafit}")
if "$BIN" --version --verbose | grep -q -- '--base-dtype bf16 runs on'; then
  echo "bf16 on oneDNN"
else
  export LORAFIT_BF16_BACKEND=reference
  echo "bf16 on the reference GEMMs (this CPU or build has no oneDNN bf16)"
fi
DTYPES="fp32 bf16" exec bash "$(dirname "$0")/quant_accuracy.sh" "$@"
