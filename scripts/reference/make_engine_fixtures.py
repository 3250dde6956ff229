#!/usr/bin/python3
"""make_engine_fixtures.py - writes tests/fixtures/engine/* from the PyTorch reference.

  /usr/bin/python3 scripts/reference/make_engine_fixtures.py [out_dir]

tiny.safetensors   a 2-layer GPT-2 (n_embd 24, 2 heads of 12, vocab 40,
                   context 12) in Hugging Face layout; metadata has the config.
case_labs.safetensors, case_peft.safetensors
                   one LoRA setup each (labs: W_query/W_key/W_value/out_proj/
                   ff.layers.0/ff.layers.2, rank scaling; peft: the fused c_attn
                   plus attn.c_proj/mlp.c_fc/mlp.c_proj, alpha-only scaling,
                   gradient clipping), holding:
  tokens [B, T], lengths [B], labels [B] (I32); padding is pad_id = vocab-1
  init.<adapter>.A, init.head.weight, init.head.bias   the starting point (B = 0)
  p1.<adapter>.B                                       a second point: random B
  <pool>.p0.* / <pool>.p1.*  logits [B, 2], loss [1], grad.<adapter>.A/.B,
                             grad.head.weight/.bias at both points
  <pool>.adamw3.*            parameters after 3 AdamW steps from the start
                             (lr, weight decay, clip in the metadata)
  lm_logits [B, T, V]        (labs case) the tied LM head at point 1, all positions
  metadata "adapters": JSON [[name, layer, site, in, out, rank], ...] in order
for pool in last_token, last_position.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_lora_ref import GPTModel, classify, fixture_out_dir, hf_state, inject, randomize, write_fixture  # noqa: E402

torch.set_num_threads(1)
CFG = {"vocab_size": 40, "context_length": 12, "emb_dim": 24, "n_heads": 2, "n_layers": 2}
CASES = {
    # name: style, rank, alpha, scaling, lr, weight decay, clip (0 = off)
    "labs": ("labs", 2, 4.0, "rank", 5e-3, 0.1, 0.0),
    "peft": ("peft", 2, 0.5, "alpha", 5e-3, 0.1, 0.05),
}
POOLS = ["last_token", "last_position"]


def base_model():
    torch.manual_seed(123)
    m = GPTModel(CFG)
    g = torch.Generator().manual_seed(7)
    # large spreads: every layer's nonlinearity must matter in a 2-layer toy
    randomize(m, g, std=0.2, ln_std=0.2, bias_std=0.1, emb_std=0.6)
    m.eval()
    return m


def batch():
    g = torch.Generator().manual_seed(11)
    B, T, pad = 4, 10, CFG["vocab_size"] - 1
    lengths = torch.tensor([10, 6, 3, 1])
    tokens = torch.randint(0, CFG["vocab_size"] - 1, (B, T), generator=g)
    for b in range(B):
        tokens[b, lengths[b]:] = pad
    labels = torch.tensor([1, 0, 1, 0])
    return tokens, lengths, labels


def run_case(name, out_dir, base_sd):
    style, rank, alpha, scaling, lr, wd, clip = CASES[name]
    scale = alpha / rank if scaling == "rank" else alpha
    tokens, lengths, labels = batch()
    out = {"tokens": tokens, "lengths": lengths, "labels": labels}

    def fresh():
        torch.manual_seed(1000)
        m = GPTModel(CFG)
        m.load_state_dict(base_sd)
        m.out_head.weight = m.tok_emb.weight
        m.eval()
        ads = inject(m, style, rank, scale)  # A drawn by kaiming_uniform_ from seed 1000
        head = nn.Linear(CFG["emb_dim"], 2)  # torch's default init, same stream
        return m, ads, head

    model, adapters, head = fresh()
    params = [p for _, _, _, lora in adapters for p in (lora.A, lora.B)] + [head.weight, head.bias]
    for n, _, _, lora in adapters:
        out[f"init.{n}.A"] = lora.A.detach().clone()
    out["init.head.weight"] = head.weight.detach().clone()
    out["init.head.bias"] = head.bias.detach().clone()
    g = torch.Generator().manual_seed(99)
    p1_B = {n: 0.1 * torch.randn(lora.B.shape, generator=g) for n, _, _, lora in adapters}
    for n in p1_B:
        out[f"p1.{n}.B"] = p1_B[n]

    def grads_at(prefix, pool):
        for p in params:
            p.grad = None
        logits = classify(model, head, tokens, lengths, pool)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        out[prefix + ".logits"] = logits.detach().clone()
        out[prefix + ".loss"] = loss.detach().reshape(1).clone()
        for n, _, _, lora in adapters:
            out[f"{prefix}.grad.{n}.A"] = lora.A.grad.clone()
            out[f"{prefix}.grad.{n}.B"] = lora.B.grad.clone()
        out[prefix + ".grad.head.weight"] = head.weight.grad.clone()
        out[prefix + ".grad.head.bias"] = head.bias.grad.clone()
        return loss.item()

    for pool in POOLS:
        with torch.no_grad():
            for _, _, _, lora in adapters:
                lora.B.zero_()
        l0 = grads_at(f"{pool}.p0", pool)
        with torch.no_grad():
            for n, _, _, lora in adapters:
                lora.B.copy_(p1_B[n])
        l1 = grads_at(f"{pool}.p1", pool)
        print(f"{name} {pool}: loss p0 {l0:.6f} p1 {l1:.6f}")
        if name == "labs" and pool == "last_token":
            with torch.no_grad():
                out["lm_logits"] = model(tokens).detach().clone()

    # 3 AdamW steps from the start, per pool (fresh model, same init)
    for pool in POOLS:
        model, adapters, head = fresh()
        params = [p for _, _, _, lora in adapters for p in (lora.A, lora.B)] + [head.weight, head.bias]
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
        for step in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(classify(model, head, tokens, lengths, pool), labels)
            loss.backward()
            if clip > 0:
                norm = torch.nn.utils.clip_grad_norm_(params, clip)
                print(f"{name} {pool} step {step}: grad norm {norm.item():.5f} (clip {clip})")
            opt.step()
        for n, _, _, lora in adapters:
            out[f"{pool}.adamw3.{n}.A"] = lora.A.detach().clone()
            out[f"{pool}.adamw3.{n}.B"] = lora.B.detach().clone()
        out[f"{pool}.adamw3.head.weight"] = head.weight.detach().clone()
        out[f"{pool}.adamw3.head.bias"] = head.bias.detach().clone()

    meta = {
        "adapters": json.dumps([[n, layer, site, lora.A.shape[0], lora.B.shape[1], rank]
                                for n, layer, site, lora in adapters]),
        "rank": rank, "alpha": alpha, "scaling": scaling, "lr": lr, "weight_decay": wd, "clip": clip,
        "pad_id": CFG["vocab_size"] - 1,
    }
    path = os.path.join(out_dir, f"case_{name}.safetensors")
    write_fixture(path, out, meta)


def main():
    out_dir = fixture_out_dir()
    model = base_model()
    meta = {"n_layer": CFG["n_layers"], "n_embd": CFG["emb_dim"], "n_head": CFG["n_heads"],
            "vocab_size": CFG["vocab_size"], "n_ctx": CFG["context_length"]}
    path = os.path.join(out_dir, "tiny.safetensors")
    write_fixture(path, hf_state(model), meta)
    base_sd = {k: v.clone() for k, v in model.state_dict().items()}
    for name in CASES:
        run_case(name, out_dir, base_sd)


if __name__ == "__main__":
    main()
