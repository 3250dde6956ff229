# cli_bench.sh - `lorafit bench --quick` runs on a tiny model and prints every
# figure it promises (text and JSON); bad options exit 2. No timing is
# checked: speed goals are met in the benchmark itself, not in tests.
. "$(dirname "$0")/lib.sh"

run bench --quick --threads 1
if [ "$rc" -ne 0 ]; then
  fail "bench --quick: exit $rc, stderr: $err"
else
  pass
  for want in "ms/step" "tokens/s" "GFLOP/step" "GFLOP/s" "ceiling" "train-padded" "train-last" \
    "infer-padded" "infer-last" "train-lm " "train-lm-all" "LM, answers counted" "sgemm 256 x 256 x 256" "peak RSS" "load average" "OMP_WAIT_POLICY"; do
    case "$out" in
      *"$want"*) pass ;;
      *) fail "bench --quick: stdout lacks '$want'"$'\n'"$out" ;;
    esac
  done
fi

# JSON: one object with the cases asked for and their figures.
expect_contains '"name":	"train-padded"' bench --quick --threads 1 --json --cases train-padded,infer-last
for key in '"ms_per_step":' '"tokens_per_s":' '"gflop_per_step":' '"gflops":' '"ceiling_gflops":' \
  '"fraction_of_ceiling":' '"peak_rss_mb":' '"weights_mb":' '"sgemm_square_gflops":' '"lengths":'; do
  case "$out" in
    *"$key"*) pass ;;
    *) fail "bench --json lacks $key" ;;
  esac
done
case "$out" in
  *'"train-last"'*) fail "bench --cases train-padded,infer-last also ran train-last" ;;
  *) pass ;;
esac

# An LM case tells torch its prompt lengths.
expect_contains '"prompt_lengths":' bench --quick --threads 1 --json --cases train-lm

# --shapes lists the GEMMs with what they are.
expect_contains "bwd dX fc_proj" bench --quick --threads 1 --cases train-padded --shapes

# --data: real texts, encoded, in batches of --batch.
printf 'Label,Text\n' >"$TMP/tiny.csv"
for i in 1 2 3 4 5 6 7 8; do printf 'ham,see you at %d tonight\nspam,WIN a prize now call %d\n' "$i" "$i" >>"$TMP/tiny.csv"; done
expect_contains "last-token" bench --quick --threads 1 --cases train-last --data "$TMP/tiny.csv"

# Usage errors.
expect_fail 2 "unknown option '--bogus'" bench --bogus
expect_fail 2 "unknown case 'train'" bench --quick --cases train
expect_fail 2 "--repeat" bench --quick --repeat 0
expect_fail 2 "not both" bench --config gpt2-small --model /nonexistent
expect_fail 2 "unexpected argument" bench --quick extra
expect_fail 2 "--quick" bench --quick --config gpt2-small
expect_fail 2 "" bench --quick --data "$TMP/missing.csv"

finish
