#!/usr/bin/python3
"""make_generate_fixture.py - writes tests/fixtures/engine/generate.safetensors:
greedy generation by the PyTorch reference, token for token, for the C
decoder to reproduce (tests/test_generate_fixture.c).

  /usr/bin/python3 scripts/reference/make_generate_fixture.py [out_dir]

The model: gpt2_lora_ref's GPTModel, 2 layers, n_embd 32, 4 heads, vocab 64,
context 96, the LM head tied to the token embedding, with PEFT-style LoRA
(rank 4, alpha 8, scale alpha / rank) on the fused c_attn (an adapter on
q | k | v) and on mlp.c_proj, every B random and nonzero so that the
adapters change the tokens. Generation: the full forward over the growing
sequence, argmax of the last position, 64 new tokens (no cache, no stop),
for two prompts of 7 and 3 tokens.

The file holds the base weights in Hugging Face layout (names and metadata
as tiny.safetensors), lora.<i>.A [in, rank] / lora.<i>.B [rank, out] in
the engine's layout, prompt<j> and generated<j> (I32), and metadata
"adapters" ([[name, layer, site, in, out, rank], ...]), "alpha", "rank".
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_lora_ref import GPTModel, LoRALayer, LinearWithLoRA, hf_state, randomize, save_safetensors  # noqa: E402

torch.set_num_threads(1)
CFG = {"vocab_size": 64, "context_length": 96, "emb_dim": 32, "n_heads": 4, "n_layers": 2}
RANK, ALPHA, NEW_TOKENS = 4, 8.0, 64
PROMPTS = [[5, 17, 3, 60, 42, 8, 21], [33, 1, 50]]


def build():
    torch.manual_seed(321)
    m = GPTModel(CFG)
    g = torch.Generator().manual_seed(17)
    # wide spreads: the argmax must not hang on rounding in a 2-layer toy
    randomize(m, g, std=0.25, ln_std=0.2, bias_std=0.1, emb_std=0.8)
    base = hf_state(m)
    for p in m.parameters():
        p.requires_grad_(False)
    adapters, scale, d = [], ALPHA / RANK, CFG["emb_dim"]
    for i, blk in enumerate(m.trf_blocks):
        blk.att.qkv_lora = LoRALayer(d, 3 * d, RANK, scale)
        blk.ff.layers[2] = LinearWithLoRA(blk.ff.layers[2], RANK, scale)
        adapters.append((f"transformer.h.{i}.attn.c_attn", i, "qkv", blk.att.qkv_lora))
        adapters.append((f"transformer.h.{i}.mlp.c_proj", i, "fc_proj", blk.ff.layers[2].lora))
    with torch.no_grad():
        for _, _, _, lora in adapters:
            lora.B.copy_(0.3 * torch.randn(lora.B.shape, generator=g))
    m.eval()
    return m, base, adapters


def greedy(model, prompt):
    """generate_text_simple's loop: the whole sequence through the model per token."""
    idx, margins = torch.tensor([prompt]), []
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            logits = model(idx)[:, -1, :]
            top2 = torch.topk(logits, 2).values[0]
            margins.append((top2[0] - top2[1]).item())
            idx = torch.cat([idx, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return idx[0, len(prompt):], min(margins)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "fixtures", "engine")
    model, base, adapters = build()
    out = dict(base)
    for i, (_, _, _, lora) in enumerate(adapters):
        out[f"lora.{i}.A"] = lora.A.detach().clone()
        out[f"lora.{i}.B"] = lora.B.detach().clone()
    for j, p in enumerate(PROMPTS):
        gen, margin = greedy(model, p)
        out[f"prompt{j}"] = torch.tensor(p, dtype=torch.int32)
        out[f"generated{j}"] = gen.to(torch.int32)
        print(f"prompt {j}: {len(set(gen.tolist()))} distinct tokens, smallest top-2 logit gap {margin:.4f}")
    meta = {"n_layer": CFG["n_layers"], "n_embd": CFG["emb_dim"], "n_head": CFG["n_heads"],
            "vocab_size": CFG["vocab_size"], "n_ctx": CFG["context_length"], "rank": RANK, "alpha": ALPHA,
            "adapters": json.dumps([[n, layer, site, lora.A.shape[0], lora.B.shape[1], RANK]
                                    for n, layer, site, lora in adapters])}
    path = os.path.join(out_dir, "generate.safetensors")
    save_safetensors(path, out, meta)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
