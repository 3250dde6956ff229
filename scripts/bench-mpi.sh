#!/usr/bin/env bash
# bench-mpi.sh - data-parallel training (`mpirun -n N lorafit train`, issue
# 16) against one process, on this machine, and a model of the scaling.
#
#   scripts/bench-mpi.sh [--steps N] [--rounds N] [--config PRESET | --n-layer N --n-embd N --n-head N]
#
# Trains a random GPT-2 (`lorafit random-model`, default gpt2-small's shape)
# on the SMS split's first texts at batch 8 for --steps steps (default 12),
# in ROUNDS interleaved rounds (default 2) of five settings:
#   1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread,
#   3 ranks x 1 thread (oversubscribed on 2 cores), and 1 rank x 2 threads again;
# a step's time is the median over steps 2.. of the JSON log's (the first
# step pays page faults), and its CPU time (user + system, every rank and
# thread) the difference between a 2-epoch and a 1-epoch run over the steps
# of one epoch: on a machine that other jobs share, wall times say little,
# while 2 ranks x 1 thread against 1 rank x 2 threads in CPU per step says
# what they would reach on two idle cores (a rank's brief spin before it
# sleeps in the allreduce counts, so the ratio errs against the ranks). Then
# it times the allreduce of the run's exchange (every trainable parameter +
# 4 sums, floats) on 2 and 3 ranks, with a small
# program built by mpicc, and prints the model
#   step(N) = step(1 rank x 1 thread) * ceil(8/N)/8 * max(1, N/cores) + allreduce(N)
# (each rank runs its slice of the batch; N ranks on fewer cores share them)
# beside the measured steps. The goal: 2 ranks x 1 thread reach 90% of the
# throughput of 1 rank x 2 threads.
# LORAFIT_BIN picks the executable (default build/lorafit). Runs as root need
# OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (set here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${LORAFIT_BIN:-$root/build/lorafit}
steps=12
rounds=2
shape=(--config gpt2-small)
while [ $# -gt 0 ]; do
  case $1 in
    --steps) steps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --config) shape=(--config "$2"); shift 2 ;;
    --n-layer|--n-embd|--n-head) shape+=("$1" "$2"); shift 2 ;;
    *) echo "bench-mpi: unknown option '$1' (see the head of $0)" >&2; exit 2 ;;
  esac
done
[[ -x $bin ]] || { echo "bench-mpi: no lorafit executable at $bin; build it or set LORAFIT_BIN" >&2; exit 2; }
command -v mpirun >/dev/null && command -v mpicc >/dev/null ||
  { echo "bench-mpi: needs mpirun and mpicc (apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset OMP_NUM_THREADS

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" random-model --out "$tmp/model" "${shape[@]}" --seed 1 >/dev/null 2>&1
"$bin" split "$root/data/sms_spam/SMSSpamCollection" --out "$tmp/split" --balance >/dev/null
head -n $((8 * steps + 1)) "$tmp/split/train.csv" > "$tmp/train.csv"
cores=$(nproc)
echo "bench-mpi: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $cores cores; model ${shape[*]};" \
  "$steps steps of batch 8, $rounds rounds; load average at start $(cut -d' ' -f1-3 /proc/loadavg)"

# step_ms LOG: the median step time in ms over steps 2.. of a JSON log
# (each line's "seconds" is the time since the start).
step_ms() {
  grep -o '"seconds": [0-9.]*' "$1" | cut -d' ' -f2 | awk 'NR > 1 { print ($1 - prev) * 1000 } { prev = $1 }' |
    median -
}
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# cpu_run EPOCHS RANKS THREADS: trains; prints the CPU seconds of all its processes.
cpu_run() {
  local epochs=$1 n=$2 threads=$3 launcher=()
  [ "$n" -gt 1 ] && launcher=(mpirun --oversubscribe -n "$n")
  rm -rf "$tmp/out" "$tmp/log"
  /usr/bin/time -f "%U %S" -o "$tmp/time" "${launcher[@]}" "$bin" train --model "$tmp/model" \
    --train "$tmp/train.csv" --out "$tmp/out" --force --epochs "$epochs" --threads "$threads" --log "$tmp/log" \
    --log-every 0 >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  awk '{ print $1 + $2 }' "$tmp/time"
}

# one NAME RANKS THREADS: appends the step's wall time to $tmp/NAME and its
# CPU time (ms) to $tmp/NAME.cpu.
one() {
  local name=$1 n=$2 threads=$3 c1 c2
  c1=$(cpu_run 1 "$n" "$threads")
  c2=$(cpu_run 2 "$n" "$threads")
  step_ms "$tmp/log" >> "$tmp/$name"
  awk -v a="$c1" -v b="$c2" -v s="$steps" 'BEGIN { print (b - a) * 1000 / s }' >> "$tmp/$name.cpu"
}

for r in $(seq 1 "$rounds"); do
  one r1t1 1 1
  one r1t2 1 2
  one r2t1 2 1
  one r3t1 3 1
  one r1t2 1 2
  echo "round $r done; load average $(cut -d' ' -f1-3 /proc/loadavg)"
done

# The exchange: every trainable parameter and the step's 4 sums.
params=$("$bin" train --model "$tmp/model" --train "$tmp/train.csv" --out "$tmp/count" --force --epochs 1 \
  --threads 1 --log-every 0 2>&1 >/dev/null | sed -n 's/.* \([0-9]*\) trainable parameters.*/\1/p')
floats=$((params + 4))
cat > "$tmp/allreduce.c" <<'C'
/* Times the allreduce of float[n] (MPI_IN_PLACE, MPI_SUM) as lorafit's step runs it. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int n = atoi(argv[1]), reps = atoi(argv[2]), rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    float *x = calloc((size_t)n, sizeof *x);
    MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); /* warm-up */
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < reps; i++) {
        MPI_Request req;
        MPI_Iallreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req);
        MPI_Wait(&req, MPI_STATUS_IGNORE);
    }
    double ms = (MPI_Wtime() - t0) * 1000 / reps;
    if (rank == 0) printf("%.3f\n", ms);
    free(x);
    MPI_Finalize();
    return 0;
}
C
mpicc -O2 -o "$tmp/allreduce" "$tmp/allreduce.c"
ar2=$(mpirun --oversubscribe -n 2 "$tmp/allreduce" "$floats" 50)
ar3=$(mpirun --oversubscribe -n 3 "$tmp/allreduce" "$floats" 50)

t11=$(median "$tmp/r1t1") t12=$(median "$tmp/r1t2") t21=$(median "$tmp/r2t1") t31=$(median "$tmp/r3t1")
c11=$(median "$tmp/r1t1.cpu") c12=$(median "$tmp/r1t2.cpu") c21=$(median "$tmp/r2t1.cpu") c31=$(median "$tmp/r3t1.cpu")
echo
echo "exchange: $floats floats ($(awk -v f="$floats" 'BEGIN { printf "%.2f", f * 4 / 1e6 }') MB);" \
  "its allreduce took $ar2 ms on 2 ranks, $ar3 ms on 3 (mean of 50)"
awk -v t11="$t11" -v t12="$t12" -v t21="$t21" -v t31="$t31" -v ar2="$ar2" -v ar3="$ar3" -v cores="$cores" \
    -v c11="$c11" -v c12="$c12" -v c21="$c21" -v c31="$c31" '
  function ceil(x) { return x == int(x) ? x : int(x) + 1 }
  function model(n, ar) { return t11 * ceil(8 / n) / 8 * (n > cores ? n / cores : 1) + ar }
  BEGIN {
    printf "%-22s %10s %10s %10s %12s\n", "setting", "step ms", "texts/s", "model ms", "CPU ms/step"
    printf "%-22s %10.1f %10.2f %10.1f %12.1f\n", "1 rank x 1 thread", t11, 8000 / t11, model(1, 0), c11
    printf "%-22s %10.1f %10.2f %10s %12.1f\n", "1 rank x 2 threads", t12, 8000 / t12, "-", c12
    printf "%-22s %10.1f %10.2f %10.1f %12.1f\n", "2 ranks x 1 thread", t21, 8000 / t21, model(2, ar2), c21
    printf "%-22s %10.1f %10.2f %10.1f %12.1f\n", "3 ranks x 1 thread", t31, 8000 / t31, model(3, ar3), c31
    printf "2 ranks x 1 thread reach %.0f%% of the throughput of 1 rank x 2 threads in wall time, " \
           "%.0f%% in CPU time per step (goal: 90%%)\n", 100 * t12 / t21, 100 * c12 / c21
  }'
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
