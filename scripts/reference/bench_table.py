"""bench_table.py - the tables of scripts/bench-vs-pytorch.sh.

  bench_table.py round LORAFIT.json TORCH.json LORAFIT_RSS_MB TORCH_RSS_MB
      one round: both sides' ms/step, the ratio, GFLOP/s against lorafit's
      sgemm ceiling, generation and peak RSS;
  bench_table.py summary WORKDIR ROUNDS
      every round's ratio per case and their median, from WORKDIR's
      lorafit.R.json / torch.R.json.

Plain Python (json, statistics): no torch needed to print the tables.
"""
import json
import statistics
import sys


def at_ceiling(lorafit_case, torch_ms):
    """The ratio torch / lorafit if lorafit's whole step ran at its sgemm
    ceiling (the most these GEMMs allow, both sides multiplying through the
    same OpenBLAS); None when the run measured no ceiling."""
    if lorafit_case["ceiling_gflops"] <= 0:
        return None
    return torch_ms * lorafit_case["ceiling_gflops"] / (1000 * lorafit_case["gflop_per_step"])


def print_round(lf, th, lf_rss, th_rss):
    tc = {c["name"]: c for c in th["cases"]}
    print(f"model: {lf['model']} ({lf['n_layer']} layers x {lf['n_embd']}), {lf['adapters']} adapters rank {lf['rank']}; "
          f"torch {th['torch']} with {th['threads']} threads; lorafit {lf['threads']} threads, {lf['omp_wait_policy']}")
    print(f"{'case':<13} {'lorafit ms':>10} {'torch ms':>9} {'torch/lorafit':>13} {'lorafit tok/s':>13} {'torch tok/s':>11}"
          f" {'GFLOP/step':>10} {'lorafit GF/s':>12} {'torch GF/s':>10} {'ceiling':>8} {'of ceil.':>8} {'at ceil.':>8}")
    for c in lf["cases"]:
        t = tc[c["name"]]
        bound = at_ceiling(c, t["ms_per_step"])
        bound_text = f"{bound:>7.2f}x" if bound is not None else f"{'-':>8}"
        print(f"{c['name']:<13} {c['ms_per_step']:>10.1f} {t['ms_per_step']:>9.1f} {t['ms_per_step'] / c['ms_per_step']:>12.2f}x"
              f" {c['tokens_per_s']:>13.0f} {t['tokens_per_s']:>11.0f} {c['gflop_per_step']:>10.1f} {c['gflops']:>12.1f}"
              f" {t['gflops_lorafit_count']:>10.1f} {c['ceiling_gflops']:>8.1f} {100 * c['fraction_of_ceiling']:>7.1f}% {bound_text}")
    print(f"(GFLOP/s of both sides use lorafit's count of the FLOPs a step needs; ceiling = cblas_sgemm alone at the step's"
          f" GEMM shapes; sgemm {lf['sgemm_square_n']}^3: {lf['sgemm_square_gflops']:.1f} GFLOP/s;"
          f" at ceil. = torch ms / the ms lorafit's FLOPs take at the ceiling: the most torch/lorafit can be with these"
          f" GEMMs, as both sides multiply through the same OpenBLAS)")
    if lf.get("generate") and th.get("generate"):
        g, t = lf["generate"], th["generate"]
        print(f"generate, batch 1, greedy, {g['new_tokens']} new tokens after {g['prompt_tokens']}: lorafit {g['ms_per_token']:.2f} ms/token"
              f" (KV cache), torch {t['ms_per_token']:.1f} ms/token (no cache, the whole sequence per token"
              f"{'' if t['every_step'] else ', every 32nd step timed'}): {t['ms_per_token'] / g['ms_per_token']:.1f}x;"
              f" lorafit = {g['ratio_to_weight_read']:.2f} x the weight read ({g['weight_mb']:.0f} MB in {g['weight_read_ms']:.2f} ms,"
              f" {g['bandwidth_gbs']:.1f} GB/s)")
    weights = (("checkpoint, blocks " + ("in place" if lf.get("weights_in_place") else "copied"))
               if lf["weights_mmapped"] else "random, allocated")
    print(f"peak RSS (whole process, /usr/bin/time -v): lorafit {lf_rss} MB, torch {th_rss} MB; lorafit's weights"
          f" {lf['weights_mb']:.1f} MB ({weights}), RSS with them"
          f" {lf['rss_with_weights_mb']:.1f} MB, after train-padded {lf['peak_rss_after_train_padded_mb']:.1f} MB")


def print_summary(work, rounds):
    runs = [(json.load(open(f"{work}/lorafit.{r}.json")), json.load(open(f"{work}/torch.{r}.json")))
            for r in range(1, rounds + 1)]
    print(f"torch / lorafit per round, {rounds} rounds (each: lorafit's cases, then torch's), and their median;")
    print("at ceil.: the ratio if lorafit's whole step ran at its sgemm ceiling (the most these GEMMs allow)")
    print(f"{'case':<13} " + " ".join(f"{'round ' + str(r):>8}" for r in range(1, rounds + 1))
          + f" {'median':>8}   at ceil. per round")
    for i, c in enumerate(runs[0][0]["cases"]):
        ratios, bounds = [], []
        for lf, th in runs:
            lc = lf["cases"][i]
            tm = {t["name"]: t for t in th["cases"]}[lc["name"]]["ms_per_step"]
            ratios.append(tm / lc["ms_per_step"])
            bound = at_ceiling(lc, tm)
            if bound is not None:
                bounds.append(bound)
        print(f"{c['name']:<13} " + " ".join(f"{x:>7.2f}x" for x in ratios) + f" {statistics.median(ratios):>7.2f}x   "
              + " ".join(f"{b:.2f}x" for b in bounds))


def main(argv):
    if len(argv) == 6 and argv[1] == "round":
        lf, th = (json.load(open(p)) for p in argv[2:4])
        print_round(lf, th, argv[4], argv[5])
    elif len(argv) == 4 and argv[1] == "summary":
        print_summary(argv[2], int(argv[3]))
    else:
        sys.exit("usage: bench_table.py round LORAFIT.json TORCH.json LORAFIT_RSS_MB TORCH_RSS_MB\n"
                 "       bench_table.py summary WORKDIR ROUNDS")


if __name__ == "__main__":
    main(sys.argv)
