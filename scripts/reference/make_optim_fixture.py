#!/usr/bin/python3
"""make_optim_fixture.py - tests/fixtures/engine/optim.safetensors from torch.

  /usr/bin/python3 scripts/reference/make_optim_fixture.py [out_dir]

Two parameter tensors (as two entries of one flat array in C) and 5 steps of
given gradients through torch.optim.AdamW (lr 0.01, weight decay `wd`), with
and without torch.nn.utils.clip_grad_norm_(max_norm 0.5) before each step:
  init [n], grads [5, n], wd<k>.clip<c>.params [5, n] after each step,
  wd<k>.clip<c>.norms [5] (the norms clip_grad_norm_ returned; clip runs only).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_lora_ref import save_safetensors  # noqa: E402

g = torch.Generator().manual_seed(3)
init = torch.randn(13, generator=g)
# gradients of mixed scales, some exactly zero, to exercise eps and the moments
grads = torch.randn(5, 13, generator=g) * torch.tensor([1e-3, 1e-1, 1.0, 3.0, 0.0] * 2 + [1e-6, 1e2, 0.5]).repeat(5, 1) / 4
out = {"init": init, "grads": grads}
for wd in (0.0, 0.1):
    for clip in (0, 1):
        p1 = init[:6].clone().requires_grad_(True)  # two tensors: the total norm spans both
        p2 = init[6:].clone().requires_grad_(True)
        opt = torch.optim.AdamW([p1, p2], lr=0.01, weight_decay=wd)
        hist, norms = [], []
        for s in range(5):
            opt.zero_grad()
            p1.grad = grads[s, :6].clone()
            p2.grad = grads[s, 6:].clone()
            if clip:
                norms.append(torch.nn.utils.clip_grad_norm_([p1, p2], 0.5).item())
            opt.step()
            hist.append(torch.cat([p1.detach(), p2.detach()]))
        key = f"wd{int(wd * 10)}.clip{clip}"
        out[key + ".params"] = torch.stack(hist)
        if clip:
            out[key + ".norms"] = torch.tensor(norms)
here = os.path.dirname(os.path.abspath(__file__))
out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "fixtures", "engine")
save_safetensors(os.path.join(out_dir, "optim.safetensors"), out, {"lr": 0.01, "max_norm": 0.5})
print("wrote", os.path.join(out_dir, "optim.safetensors"))
