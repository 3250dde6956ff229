#!/usr/bin/python3
"""full_size_check.py - a random gpt2-small (124M) and PyTorch's outputs on it,
for tests/test_engine_fullsize.c. Nothing here is committed: it writes ~600 MB
to the output directory (default /tmp/lorafit-fullsize).

  /usr/bin/python3 scripts/reference/full_size_check.py [out_dir]
  LORAFIT_FULLSIZE_DIR=/tmp/lorafit-fullsize build/tests/test_engine_fullsize

model.safetensors  the frozen base, HF names and layout, config in the metadata
case.safetensors   the labs' LoRA on every Linear (rank 8, alpha 16), A as
                   kaiming_uniform_ drew it, random nonzero B, a torch-init
                   head; a batch of 4 x 24 tokens right-padded with 50256;
                   for both poolings the class logits, the loss and every
                   gradient; the tied LM head's logits at every position;
                   as a causal LM, with prompt_lengths [B] masked, the loss
                   (HF's shifted labels, ignore_index=-100) and its LoRA
                   gradients (lm.loss, lm.grad.*).
Same tensor names as the tiny fixtures (make_engine_fixtures.py).
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_lora_ref import GPTModel, classify, hf_state, inject, lm_labels, randomize, save_safetensors  # noqa: E402

CFG = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12, "n_layers": 12}


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "/tmp/lorafit-fullsize"
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.time()
    torch.manual_seed(0)
    model = GPTModel(CFG)
    randomize(model, torch.Generator().manual_seed(1), std=0.02, ln_std=0.05, bias_std=0.02, emb_std=0.1)
    model.eval()
    meta = {"n_layer": 12, "n_embd": 768, "n_head": 12, "vocab_size": 50257, "n_ctx": 1024}
    save_safetensors(os.path.join(out_dir, "model.safetensors"), hf_state(model), meta)
    print(f"model written ({time.time() - t0:.1f} s)")

    torch.manual_seed(2)
    adapters = inject(model, "labs", 8, 16.0 / 8)
    head = nn.Linear(768, 2)
    g = torch.Generator().manual_seed(3)
    out = {}
    # The reference runs in float64 from the same float32 weights and inputs:
    # a float32 PyTorch run is itself ~1e-6 off the exact values, as far as
    # the engine's own float32 error, so only a float64 reference can judge it.
    model.double()
    head.double()
    with torch.no_grad():
        for n, _, _, lora in adapters:
            out[f"init.{n}.A"] = lora.A.detach().clone()
            lora.B.copy_(0.02 * torch.randn(lora.B.shape, generator=g))
            out[f"p1.{n}.B"] = lora.B.detach().clone()
    out["init.head.weight"] = head.weight.detach().clone()
    out["init.head.bias"] = head.bias.detach().clone()
    B, T = 4, 24
    lengths = torch.tensor([24, 17, 5, 1])
    tokens = torch.randint(0, 50256, (B, T), generator=g)
    for b in range(B):
        tokens[b, lengths[b]:] = 50256
    labels = torch.tensor([0, 1, 1, 0])
    out.update({"tokens": tokens, "lengths": lengths, "labels": labels})
    params = [p for _, _, _, lora in adapters for p in (lora.A, lora.B)] + [head.weight, head.bias]
    for pool in ("last_token", "last_position"):
        for p in params:
            p.grad = None
        logits = classify(model, head, tokens, lengths, pool)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        pre = f"{pool}.p1"
        out[pre + ".logits"] = logits.detach().clone()
        out[pre + ".loss"] = loss.detach().reshape(1)
        for n, _, _, lora in adapters:
            out[f"{pre}.grad.{n}.A"] = lora.A.grad.clone()
            out[f"{pre}.grad.{n}.B"] = lora.B.grad.clone()
        out[pre + ".grad.head.weight"] = head.weight.grad.clone()
        out[pre + ".grad.head.bias"] = head.bias.grad.clone()
        print(f"{pool}: logits {logits.detach().numpy().ravel()} loss {loss.item():.6f}")
    prompts = torch.tensor([10, 0, 2, 0])
    for p in params:
        p.grad = None
    logits = model(tokens)
    labels = lm_labels(tokens, lengths, prompts)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)
    loss.backward()
    out["prompt_lengths"] = prompts
    out["lm.loss"] = loss.detach().reshape(1)
    for n, _, _, lora in adapters:
        out[f"lm.grad.{n}.A"] = lora.A.grad.clone()
        out[f"lm.grad.{n}.B"] = lora.B.grad.clone()
    print(f"causal LM: loss {loss.item():.6f}")
    out["lm_logits"] = logits.detach()
    out = {k: (v.float() if v.is_floating_point() else v) for k, v in out.items()}
    meta = {"adapters": json.dumps([[n, layer, site, lora.A.shape[0], lora.B.shape[1], 8]
                                    for n, layer, site, lora in adapters]),
            "rank": 8, "alpha": 16.0, "scaling": "rank"}
    save_safetensors(os.path.join(out_dir, "case.safetensors"), out, meta)
    print(f"done ({time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
