#!/usr/bin/python3
"""make_inspect_fixture.py - writes tests/fixtures/merge/inspect.json: for
each adapter of tests/fixtures/merge/labs and .../peft (make_merge_fixture.py)
over tests/fixtures/merge/base, numpy's ||dW||_F, ||W||_F and the singular
values of dW = scale * A @ B (formed in full, float64, np.linalg.svd), for
tests/test_inspect.c to hold `lorafit inspect` against.

  /usr/bin/python3 scripts/reference/make_inspect_fixture.py

Order: the adapters as lorafit lists them (block by block; labs: W_query,
W_key, W_value, out_proj, ff.layers.0, ff.layers.2; PEFT: c_attn, attn.c_proj,
mlp.c_fc, mlp.c_proj).
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_merge_fixture as mf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "..", "tests", "fixtures", "merge")
C = mf.CFG["emb_dim"]
LABS = [("att.W_query", "attn.c_attn", 0), ("att.W_key", "attn.c_attn", C), ("att.W_value", "attn.c_attn", 2 * C),
        ("att.out_proj", "attn.c_proj", 0), ("ff.layers.0", "mlp.c_fc", 0), ("ff.layers.2", "mlp.c_proj", 0)]
PEFT = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]


def main():
    base = {k: v.numpy().astype(np.float64) for k, v in mf.read_safetensors(os.path.join(FIX, "base", "model.safetensors")).items()}
    out = {}
    for case in ("labs", "peft"):
        t = {k: v.numpy().astype(np.float64)
             for k, v in mf.read_safetensors(os.path.join(FIX, case, "adapter_model.safetensors")).items()}
        c = mf.CASES[case]
        scale = c["alpha"] / c["rank"] if c["scaling"] == "rank" else c["alpha"]
        rows = []
        for i in range(mf.CFG["n_layers"]):
            for site in (LABS if case == "labs" else PEFT):
                if case == "labs":
                    name, conv, col = site
                    a, b = t[f"trf_blocks.{i}.{name}.lora.A"], t[f"trf_blocks.{i}.{name}.lora.B"]
                else:
                    name, conv, col = site, site, 0
                    k = f"base_model.model.transformer.h.{i}.{site}."
                    a, b = t[k + "lora_A.weight"].T, t[k + "lora_B.weight"].T
                dw = scale * a @ b
                w = base[f"h.{i}.{conv}.weight"][:, col:col + dw.shape[1]]
                rows.append({"layer": i, "target": name, "delta_norm": float(np.linalg.norm(dw)),
                             "weight_norm": float(np.linalg.norm(w)),
                             "singular_values": [float(s) for s in np.linalg.svd(dw, compute_uv=False)[:a.shape[1]]]})
        out[case] = rows
    path = os.path.join(FIX, "inspect.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
