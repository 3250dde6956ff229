#!/usr/bin/python3
"""make_merge_fixture.py - writes tests/fixtures/merge/: a tiny GPT-2, two
classifier adapters for it (the labs' names and PEFT's), and the logits
PyTorch gives for base + adapter, for tests/test_merge_fixture.c to hold
`lorafit merge`'s output against.

  /usr/bin/python3 scripts/reference/make_merge_fixture.py [out_dir]
  /usr/bin/python3 scripts/reference/make_merge_fixture.py --check MERGED_DIR labs|peft

The model: 2 layers, n_embd 32, 4 heads, vocab 64, context 32, Hugging Face
names and Conv1D layout (base/model.safetensors + config.json).
labs/: lorafit's adapter_config.json (labs naming, every Linear, rank 2,
alpha 3, scale alpha / rank) and adapter_model.safetensors with the labs'
keys (trf_blocks.N.att.W_query.lora.A [in, r], .lora.B [r, out], ...,
out_head.weight / .bias). peft/: PEFT's names (base_model.model.transformer
.h.N.attn.c_attn.lora_A.weight [r, in], lora_B.weight [out, r], c_proj, c_fc,
and the head base_model.model.score.weight / .bias), rank 2, alpha 0.5 with
scaling "alpha" (scale = alpha). Every B is random and nonzero.
expected.safetensors: tokens [2, 7] (I32), lengths [2], logits_labs and
logits_peft [2, 3]: the HF-layout model with the adapters beside the frozen
weights (y = x W + b + scale x A B, the labs' Q/K/V adapters on their
column block of c_attn), read at each text's last token, head with bias.

--check runs a merged directory (lorafit merge's output) as a plain GPT-2:
its model.safetensors loaded into the same HF-layout model with no adapter,
score.weight and score.bias as the head, and prints the largest difference
from the adapter's logits (run by hand; CI never runs Python).
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_lora_ref import GPTModel, hf_state, randomize, save_safetensors  # noqa: E402

torch.set_num_threads(1)
CFG = {"vocab_size": 64, "context_length": 32, "emb_dim": 32, "n_heads": 4, "n_layers": 2}
N_CLASSES, CLASSES = 3, ["ham", "spam", "eggs"]
TOKENS = [[5, 17, 3, 60, 2, 9, 41], [33, 1, 0, 12, 50, 0, 0]]
LENGTHS = [7, 5]
LABS_SITES = ["att.W_query", "att.W_key", "att.W_value", "att.out_proj", "ff.layers.0", "ff.layers.2"]
PEFT_SITES = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]
CASES = {"labs": {"rank": 2, "alpha": 3.0, "scaling": "rank"}, "peft": {"rank": 2, "alpha": 0.5, "scaling": "alpha"}}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": np.float32, "F16": np.float16, "I32": np.int32}[t["dtype"]]
        a, b = t["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt).reshape(t["shape"]).astype(np.float32))
    return out


def layer_norm(x, w, b):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps=1e-5)


def gelu(h):
    return 0.5 * h * (1.0 + torch.tanh((2.0 / torch.pi) ** 0.5 * (h + 0.044715 * h ** 3)))


def forward(sd, delta, head_w, head_b, tokens, lengths):
    """GPT-2 in Hugging Face's layout. delta(layer, matrix, x) is what the
    adapters add to x @ W for that Conv1D (zero for a plain model)."""
    C, H = CFG["emb_dim"], CFG["n_heads"]
    t = tokens.shape[1]
    x = sd["wte.weight"][tokens] + sd["wpe.weight"][torch.arange(t)]
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    for i in range(CFG["n_layers"]):
        p = f"h.{i}."
        conv = lambda name, z: z @ sd[p + name + ".weight"] + sd[p + name + ".bias"] + delta(i, name, z)  # noqa
        h = layer_norm(x, sd[p + "ln_1.weight"], sd[p + "ln_1.bias"])
        q, k, v = conv("attn.c_attn", h).split(C, dim=2)
        heads = lambda z: z.view(z.shape[0], t, H, C // H).transpose(1, 2)  # noqa: E731
        q, k, v = heads(q), heads(k), heads(v)
        w = (q @ k.transpose(-1, -2)) / (C // H) ** 0.5
        w = torch.softmax(w.masked_fill(~mask, float("-inf")), dim=-1)
        y = (w @ v).transpose(1, 2).reshape(x.shape)
        x = x + conv("attn.c_proj", y)
        h = layer_norm(x, sd[p + "ln_2.weight"], sd[p + "ln_2.bias"])
        x = x + conv("mlp.c_proj", gelu(conv("mlp.c_fc", h)))
    x = layer_norm(x, sd["ln_f.weight"], sd["ln_f.bias"])
    pooled = x[torch.arange(tokens.shape[0]), lengths - 1]
    return pooled @ head_w.t() + head_b


def labs_delta(adapters, scale):
    """The labs' six Linears per block; Q, K, V add into c_attn's column blocks."""
    def delta(i, name, z):
        C = CFG["emb_dim"]
        if name == "attn.c_attn":
            parts = [z @ adapters[f"trf_blocks.{i}.att.{s}.lora.A"] @ adapters[f"trf_blocks.{i}.att.{s}.lora.B"]
                     for s in ("W_query", "W_key", "W_value")]
            return scale * torch.cat(parts, dim=-1)
        labs = {"attn.c_proj": "att.out_proj", "mlp.c_fc": "ff.layers.0", "mlp.c_proj": "ff.layers.2"}[name]
        k = f"trf_blocks.{i}.{labs}.lora."
        return scale * (z @ adapters[k + "A"] @ adapters[k + "B"]) + 0 * C
    return delta


def peft_delta(adapters, scale):
    """PEFT's lora.Linear on a Conv1D (fan_in_fan_out): lora_B(lora_A(x)) * scaling."""
    def delta(i, name, z):
        k = f"base_model.model.transformer.h.{i}.{name}."
        return scale * (z @ adapters[k + "lora_A.weight"].t() @ adapters[k + "lora_B.weight"].t())
    return delta


def make_adapter(case, g):
    C, r = CFG["emb_dim"], CASES[case]["rank"]
    dims = {"att.W_query": (C, C), "att.W_key": (C, C), "att.W_value": (C, C), "att.out_proj": (C, C),
            "ff.layers.0": (C, 4 * C), "ff.layers.2": (4 * C, C), "attn.c_attn": (C, 3 * C),
            "attn.c_proj": (C, C), "mlp.c_fc": (C, 4 * C), "mlp.c_proj": (4 * C, C)}
    t = {}
    for i in range(CFG["n_layers"]):
        for s in (LABS_SITES if case == "labs" else PEFT_SITES):
            n_in, n_out = dims[s]
            a, b = 0.3 * torch.randn(n_in, r, generator=g), 0.3 * torch.randn(r, n_out, generator=g)
            if case == "labs":
                t[f"trf_blocks.{i}.{s}.lora.A"], t[f"trf_blocks.{i}.{s}.lora.B"] = a, b
            else:
                k = f"base_model.model.transformer.h.{i}.{s}."
                t[k + "lora_A.weight"], t[k + "lora_B.weight"] = a.t().contiguous(), b.t().contiguous()
    head = "out_head" if case == "labs" else "base_model.model.score"
    t[head + ".weight"] = 0.5 * torch.randn(N_CLASSES, C, generator=g)
    t[head + ".bias"] = 0.5 * torch.randn(N_CLASSES, generator=g)
    return t


def adapter_config(case):
    c = CASES[case]
    targets = ["all"] if case == "labs" else ["c_attn", "c_proj", "c_fc"]
    cfg = {"format": "lorafit-adapter", "format_version": 1,
           "base_model": {"n_layer": CFG["n_layers"], "n_embd": CFG["emb_dim"], "n_head": CFG["n_heads"],
                          "vocab_size": CFG["vocab_size"], "n_ctx": CFG["context_length"],
                          "fingerprint": "0000000000000000"},
           "naming": case, "r": c["rank"], "lora_alpha": c["alpha"], "scaling": c["scaling"],
           "lora_init": case, "lora_dropout": 0, "target_modules": targets,
           "pooling": "last-token", "max_length": 7, "class_names": CLASSES, "training": {}}
    if case == "peft":
        cfg.update({"peft_type": "LORA", "task_type": "SEQ_CLS", "fan_in_fan_out": True, "bias": "none",
                    "modules_to_save": ["score"], "inference_mode": True})
    return cfg


def adapter_logits(sd, case, t):
    c = CASES[case]
    scale = c["alpha"] / c["rank"] if c["scaling"] == "rank" else c["alpha"]
    head = "out_head" if case == "labs" else "base_model.model.score"
    delta = labs_delta(t, scale) if case == "labs" else peft_delta(t, scale)
    with torch.no_grad():
        return forward(sd, delta, t[head + ".weight"], t[head + ".bias"], torch.tensor(TOKENS),
                       torch.tensor(LENGTHS))


def build():
    torch.manual_seed(99)
    m = GPTModel(CFG)
    g = torch.Generator().manual_seed(5)
    randomize(m, g, std=0.2, ln_std=0.2, bias_std=0.1, emb_std=0.5)
    return hf_state(m), g


def check(merged_dir, case):
    sd, g = build()
    t = {c: make_adapter(c, g) for c in CASES}[case]
    want = adapter_logits(sd, case, t)
    merged = read_safetensors(os.path.join(merged_dir, "model.safetensors"))
    with torch.no_grad():
        got = forward(merged, lambda i, n, z: 0, merged["score.weight"], merged["score.bias"],
                      torch.tensor(TOKENS), torch.tensor(LENGTHS))
    d = (got - want).abs().max().item()
    print(f"{merged_dir} ({case}) as a plain GPT-2: max |logits - base + adapter| = {d:.3g}")
    return 0 if d <= 1e-5 else 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2], sys.argv[3]))
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "fixtures", "merge")
    sd, g = build()
    os.makedirs(os.path.join(out, "base"), exist_ok=True)
    save_safetensors(os.path.join(out, "base", "model.safetensors"), sd, {"format": "pt"})
    with open(os.path.join(out, "base", "config.json"), "w") as f:
        json.dump({"model_type": "gpt2", "n_layer": CFG["n_layers"], "n_embd": CFG["emb_dim"],
                   "n_head": CFG["n_heads"], "vocab_size": CFG["vocab_size"],
                   "n_positions": CFG["context_length"]}, f, indent=1)
    expected = {"tokens": torch.tensor(TOKENS, dtype=torch.int32), "lengths": torch.tensor(LENGTHS, dtype=torch.int32)}
    for case in CASES:
        t = make_adapter(case, g)
        d = os.path.join(out, case)
        os.makedirs(d, exist_ok=True)
        save_safetensors(os.path.join(d, "adapter_model.safetensors"), t, {"format": "pt"})
        with open(os.path.join(d, "adapter_config.json"), "w") as f:
            json.dump(adapter_config(case), f, indent=1)
        expected["logits_" + case] = adapter_logits(sd, case, t)
    save_safetensors(os.path.join(out, "expected.safetensors"), expected)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
