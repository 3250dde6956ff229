"""bench_torch.py - the PyTorch side of scripts/bench-vs-pytorch.sh.

Times the reference model (gpt2_lora_ref.GPTModel, the labs' LoRA on every
Linear in the blocks, Linear(n_embd, 2) head, AdamW lr 5e-5 / wd 0.1 over
the trainable parameters only, base frozen) on exactly the cases a
`lorafit bench --json` run measured: it reads that JSON for the shape, the
batch size, every batch's padded length and real lengths, the thread count,
the repetitions and the seed, and times the same steps:

  train-*   forward + cross-entropy + backward + AdamW step + zero_grad
  infer-*   forward under torch.no_grad()
  *-padded  [B, T] read at the last position (the labs)
  *-last    each batch padded to its longest text (as a PyTorch DataLoader
            with a padding collate does) and read at each text's last token
  train-lm* the causal LM (the same model and adapters, the LM head tied to
            tok_emb, no classification head): padded to the longest text,
            Hugging Face's loss (labels = tokens with -100 on each prompt and
            the padding, shifted; cross_entropy with ignore_index=-100), the
            prompt lengths lorafit used

A repetition runs all of a case's batches; ms/step is its time over the
batches; the median over the repetitions after the warm-up is reported.

When the JSON has "generate" (`lorafit bench --cases generate`), the
reference's greedy generation without a cache, as the labs'
generate_text_simple does it: per new token the whole sequence so far
through the model (LM head tied to the token embedding), argmax of the last
position. The continuation's mean ms per token is measured at every 32nd
step (and the last) and interpolated linearly in between, since the cost
grows with the length (BENCH_TORCH_FULL_GENERATE=1 times every step).
BENCH_TORCH_AUTOCAST=bf16 runs every forward and loss (not the backward,
as PyTorch's recipe has it) under torch.autocast("cpu", dtype=torch.bfloat16):
PyTorch's one-flag mixed precision, the counterpart of lorafit's
--base-dtype bf16 (issue 13), on oneDNN as well; the JSON says "autocast".
Prints one JSON object. Run with /usr/bin/python3 (Debian's python3-torch):

  /usr/bin/python3 scripts/reference/bench_torch.py lorafit-bench.json
  BENCH_TORCH_AUTOCAST=bf16 /usr/bin/python3 scripts/reference/bench_torch.py lorafit-bench.json
"""
import contextlib
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import numpy as np
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_lora_ref as ref  # noqa: E402


def build(spec, seed):
    cfg = {"vocab_size": spec["vocab_size"], "context_length": spec["n_ctx"], "emb_dim": spec["n_embd"],
           "n_heads": spec["n_head"], "n_layers": spec["n_layer"]}
    gen = torch.Generator().manual_seed(seed)
    model = ref.GPTModel(cfg)
    ref.randomize(model, gen)  # also ties out_head to tok_emb (unused by the classifier)
    rank, alpha = spec["rank"], 16.0
    ref.inject(model, "labs", rank, alpha / rank)  # freezes the base, wraps every block Linear
    head = nn.Linear(spec["n_embd"], 2)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=5e-5, weight_decay=0.1)
    return model, head, opt, sum(p.numel() for p in params)


def batches_of(case, vocab, gen):
    """Token tensors of the case's batches: random ids, the lengths lorafit
    used; a causal LM's labels from its prompt lengths."""
    out = []
    for b in case["batches"]:
        lengths = torch.tensor(b["lengths"], dtype=torch.long)
        tokens = torch.randint(0, vocab, (len(b["lengths"]), b["T"]), generator=gen)
        labels = torch.randint(0, 2, (len(b["lengths"]),), generator=gen)
        if "prompt_lengths" in b:
            labels = ref.lm_labels(tokens, lengths, torch.tensor(b["prompt_lengths"]))
        out.append((tokens, lengths, labels))
    return out


def autocast():
    """The forward's precision: bf16 autocast when BENCH_TORCH_AUTOCAST=bf16."""
    mode = os.environ.get("BENCH_TORCH_AUTOCAST", "")
    if mode == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    if mode:
        sys.exit(f"BENCH_TORCH_AUTOCAST is {mode!r}: bf16 or unset")
    return contextlib.nullcontext()


def step(model, head, opt, batch, pool, training):
    tokens, lengths, labels = batch
    if pool == "lm":
        with autocast():
            logits = model(tokens)
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                   ignore_index=-100)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss
    if not training:
        with torch.no_grad(), autocast():
            return ref.classify(model, head, tokens, lengths, pool)
    with autocast():
        logits = ref.classify(model, head, tokens, lengths, pool)
        loss = F.cross_entropy(logits, labels)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss


def time_case(model, head, opt, case, batches, warmup, repeat):
    lm = "prompt_lengths" in case["batches"][0]
    pool = "lm" if lm else "last_position" if case["pool"] == "last-position" else "last_token"
    samples = []
    for rep in range(-warmup, repeat):
        t0 = time.perf_counter()
        for b in batches:
            step(model, head, opt, b, pool, case["training"])
        if rep >= 0:
            samples.append(1e3 * (time.perf_counter() - t0) / len(batches))
    ms = statistics.median(samples)
    tokens = case["tokens_per_step"]
    return {"name": case["name"], "ms_per_step": ms, "ms_min": min(samples), "ms_max": max(samples),
            "samples_ms": samples, "tokens_per_s": tokens / (ms * 1e-3),
            "gflops_lorafit_count": case["gflop_per_step"] / (ms * 1e-3)}


def time_generate(model, spec, gen):
    """ms per new token of the no-cache greedy loop for the run lorafit timed."""
    g = spec["generate"]
    p, n, ctx = g["prompt_tokens"], g["new_tokens"], spec["n_ctx"]
    full = os.environ.get("BENCH_TORCH_FULL_GENERATE") == "1"
    steps = list(range(n)) if full else sorted(set(range(0, n, 32)) | {n - 1})
    idx = torch.randint(0, spec["vocab_size"], (1, p + n), generator=gen)
    measured = {}
    with torch.no_grad():
        model(idx[:, :p])  # warm-up
        for i in steps:
            # step i runs the prompt and the i tokens generated so far (the
            # cost depends on the length only; unsampled tokens are stand-ins)
            seq = idx[:, :p + i]
            t0 = time.perf_counter()
            logits = model(seq[:, -ctx:])[:, -1, :]
            idx[0, p + i] = logits.argmax(dim=-1)[0]
            measured[i] = 1e3 * (time.perf_counter() - t0)
    per_step = np.interp(np.arange(n), steps, [measured[i] for i in steps])
    return {"prompt_tokens": p, "new_tokens": n, "ms_per_token": float(per_step.mean()),
            "measured_ms": {str(i): measured[i] for i in steps}, "every_step": full}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_torch.py LORAFIT_BENCH.json")
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    threads = spec["threads"]
    torch.set_num_threads(threads)
    torch.manual_seed(spec["seed"])
    model, head, opt, n_trainable = build(spec, spec["seed"])
    gen = torch.Generator().manual_seed(spec["seed"] + 1)
    results = []
    rss_after_train_padded = None
    for case in spec["cases"]:
        batches = batches_of(case, spec["vocab_size"], gen)
        results.append(time_case(model, head, opt, case, batches, spec["warmup"], spec["repeat"]))
        if case["name"] == "train-padded":
            rss_after_train_padded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    generate = time_generate(model, spec, gen) if "generate" in spec else None
    print(json.dumps({
        "torch": torch.__version__, "autocast": os.environ.get("BENCH_TORCH_AUTOCAST") or None,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(), "trainable_params": n_trainable,
        "cases": results,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "peak_rss_after_train_padded_mb": rss_after_train_padded,
        "generate": generate,
    }, indent=1))


if __name__ == "__main__":
    main()
