"""gpt2_lora_ref.py - the PyTorch reference for lorafit's engine.

A GPT-2 in the style of the labs' GPTModel (separate W_query / W_key /
W_value / out_proj Linears with qkv bias, LayerNorm with scale/shift and
eps 1e-5, GELU with the tanh approximation, FeedForward layers[0] / [2]),
LoRALayer (A [in, rank] with kaiming_uniform_(a=sqrt(5)), B [rank, out] of
zeros, forward scale * (x @ A @ B)) and LinearWithLoRA, written for this
project. PEFT's fused c_attn target is an adapter on the concatenated
q | k | v output, which is what a LoRA on the fused Conv1D computes.

Used by make_engine_fixtures.py (tiny model, committed fixtures) and
full_size_check.py (random gpt2-small, /tmp only). Run with /usr/bin/python3
(Debian's python3-torch).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(dim))
        self.shift = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return self.scale * (x - mean) / torch.sqrt(var + self.eps) + self.shift


class GELU(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


class LoRALayer(nn.Module):
    def __init__(self, in_dim, out_dim, rank, scale):
        super().__init__()
        self.A = nn.Parameter(torch.empty(in_dim, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # U(+-1/sqrt(rank)) for [in, rank]
        self.B = nn.Parameter(torch.zeros(rank, out_dim))
        self.scale = scale  # alpha / rank, or alpha

    def forward(self, x):
        return self.scale * (x @ self.A @ self.B)


class LinearWithLoRA(nn.Module):
    def __init__(self, linear, rank, scale):
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(linear.in_features, linear.out_features, rank, scale)

    def forward(self, x):
        return self.linear(x) + self.lora(x)


class MultiHeadAttention(nn.Module):
    def __init__(self, d, n_heads, ctx):
        super().__init__()
        self.n_heads, self.head_dim = n_heads, d // n_heads
        self.W_query = nn.Linear(d, d, bias=True)
        self.W_key = nn.Linear(d, d, bias=True)
        self.W_value = nn.Linear(d, d, bias=True)
        self.out_proj = nn.Linear(d, d)
        self.qkv_lora = None  # PEFT's c_attn adapter: LoRALayer(d, 3d)
        self.register_buffer("mask", torch.triu(torch.ones(ctx, ctx), diagonal=1))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.W_query(x), self.W_key(x), self.W_value(x)
        if self.qkv_lora is not None:
            dq, dk, dv = self.qkv_lora(x).split(d, dim=-1)
            q, k, v = q + dq, k + dk, v + dv
        q = q.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = k.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        v = v.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        scores = q @ k.transpose(2, 3)
        scores = scores.masked_fill(self.mask.bool()[:t, :t], -torch.inf)
        w = torch.softmax(scores / self.head_dim ** 0.5, dim=-1)
        ctx = (w @ v).transpose(1, 2).contiguous().view(b, t, d)
        return self.out_proj(ctx)


class FeedForward(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(d, 4 * d), GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        return self.layers(x)


class TransformerBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["emb_dim"]
        self.att = MultiHeadAttention(d, cfg["n_heads"], cfg["context_length"])
        self.ff = FeedForward(d)
        self.norm1 = LayerNorm(d)
        self.norm2 = LayerNorm(d)

    def forward(self, x):
        x = x + self.att(self.norm1(x))
        return x + self.ff(self.norm2(x))


class GPTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def hidden(self, idx):
        t = idx.shape[1]
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(t))
        return self.final_norm(self.trf_blocks(x))

    def forward(self, idx):
        return self.out_head(self.hidden(idx))


# ---------------------------------------------------------------------------
# weights: random init, HF layout export

def randomize(model, gen, std=0.02, ln_std=0.05, bias_std=0.02, emb_std=0.02):
    """Frozen base weights with the given spreads (the tiny fixture uses
    large ones so that every nonlinearity matters)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("scale"):
                p.copy_(1.0 + ln_std * torch.randn(p.shape, generator=gen))
            elif name.endswith("shift") or name.endswith("bias"):
                p.copy_(bias_std * torch.randn(p.shape, generator=gen))
            elif "emb" in name:
                p.copy_(emb_std * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(std * torch.randn(p.shape, generator=gen))
        model.out_head.weight = model.tok_emb.weight  # GPT-2 ties the LM head


def hf_state(model):
    """The base weights under Hugging Face GPT2Model names and Conv1D [in, out] layout."""
    out = {"wte.weight": model.tok_emb.weight, "wpe.weight": model.pos_emb.weight}
    for i, blk in enumerate(model.trf_blocks):
        a, h = blk.att, f"h.{i}."
        out[h + "ln_1.weight"], out[h + "ln_1.bias"] = blk.norm1.scale, blk.norm1.shift
        out[h + "attn.c_attn.weight"] = torch.cat([a.W_query.weight, a.W_key.weight, a.W_value.weight], 0).t()
        out[h + "attn.c_attn.bias"] = torch.cat([a.W_query.bias, a.W_key.bias, a.W_value.bias])
        out[h + "attn.c_proj.weight"], out[h + "attn.c_proj.bias"] = a.out_proj.weight.t(), a.out_proj.bias
        out[h + "ln_2.weight"], out[h + "ln_2.bias"] = blk.norm2.scale, blk.norm2.shift
        fc, proj = blk.ff.layers[0], blk.ff.layers[2]
        out[h + "mlp.c_fc.weight"], out[h + "mlp.c_fc.bias"] = fc.weight.t(), fc.bias
        out[h + "mlp.c_proj.weight"], out[h + "mlp.c_proj.bias"] = proj.weight.t(), proj.bias
    out["ln_f.weight"], out["ln_f.bias"] = model.final_norm.scale, model.final_norm.shift
    return {k: v.detach().contiguous() for k, v in out.items()}


# ---------------------------------------------------------------------------
# LoRA injection, as the labs' replace_linear_with_lora / PEFT targets do

LABS_SITES = [("att.W_query", "q"), ("att.W_key", "k"), ("att.W_value", "v"),
              ("att.out_proj", "attn_out"), ("ff.layers.0", "fc"), ("ff.layers.2", "fc_proj")]
PEFT_SITES = [("attn.c_attn", "qkv"), ("attn.c_proj", "attn_out"), ("mlp.c_fc", "fc"),
              ("mlp.c_proj", "fc_proj")]


def inject(model, style, rank, scale):
    """Freezes the base, wraps every Linear in the blocks, and returns the
    adapters in module order: [(name, layer, site, LoRALayer)]."""
    for p in model.parameters():
        p.requires_grad_(False)
    adapters = []
    for i, blk in enumerate(model.trf_blocks):
        if style == "labs":
            for path, site in LABS_SITES:
                parent_name, attr = path.rsplit(".", 1)
                parent = blk.get_submodule(parent_name)
                wrapped = LinearWithLoRA(getattr(parent, attr), rank, scale)
                setattr(parent, attr, wrapped)
                adapters.append((f"trf_blocks.{i}.{path}", i, site, wrapped.lora))
        else:
            d = blk.att.W_query.in_features
            blk.att.qkv_lora = LoRALayer(d, 3 * d, rank, scale)
            blk.att.out_proj = LinearWithLoRA(blk.att.out_proj, rank, scale)
            blk.ff.layers[0] = LinearWithLoRA(blk.ff.layers[0], rank, scale)
            blk.ff.layers[2] = LinearWithLoRA(blk.ff.layers[2], rank, scale)
            loras = [blk.att.qkv_lora, blk.att.out_proj.lora, blk.ff.layers[0].lora, blk.ff.layers[2].lora]
            for (path, site), lora in zip(PEFT_SITES, loras):
                adapters.append((f"transformer.h.{i}.{path}", i, site, lora))
    return adapters


def classify(model, head, tokens, lengths, pool):
    """Class logits read at one position per sequence."""
    h = model.hidden(tokens)
    if pool == "last_token":
        h = h[torch.arange(tokens.shape[0]), lengths - 1]
    else:
        h = h[:, -1, :]
    return head(h)


# ---------------------------------------------------------------------------
# A Hugging Face-style GPT2LMHeadModel, written for this project (no
# transformers here): Conv1D layers (weight [in, out]) under HF's module
# names, the fused c_attn, torch.nn.LayerNorm, gelu_new, the LM head tied to
# wte, and HF's loss: logits shifted against labels, cross_entropy with
# ignore_index=-100 (a mean over the counted tokens). PEFT's LoRA wraps a
# Conv1D as PEFT does (fan_in_fan_out): lora_A = Linear(in, r), lora_B =
# Linear(r, out), result += lora_B(lora_A(dropout(x))) * alpha / r.

class Conv1D(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


class PeftLoraConv1D(nn.Module):
    def __init__(self, base, rank, alpha, dropout=0.0):
        super().__init__()
        n_in, n_out = base.weight.shape
        self.base_layer = base
        self.lora_A = nn.Linear(n_in, rank, bias=False)
        self.lora_B = nn.Linear(rank, n_out, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))  # PEFT: U(+-1/sqrt(in))
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / rank
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling


class HFAttention(nn.Module):
    def __init__(self, d, n_head, ctx):
        super().__init__()
        self.n_head, self.d = n_head, d
        self.c_attn, self.c_proj = Conv1D(d, 3 * d), Conv1D(d, d)
        self.register_buffer("bias", torch.tril(torch.ones(ctx, ctx, dtype=torch.bool)).view(1, 1, ctx, ctx))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        heads = lambda z: z.view(b, t, self.n_head, d // self.n_head).permute(0, 2, 1, 3)  # noqa: E731
        q, k, v = heads(q), heads(k), heads(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / (v.size(-1) ** 0.5)
        w = torch.where(self.bias[:, :, :t, :t], w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        w = nn.functional.softmax(w, dim=-1)
        y = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(b, t, d)
        return self.c_proj(y)


class HFMLP(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_fc, self.c_proj = Conv1D(d, 4 * d), Conv1D(4 * d, d)

    def forward(self, x):
        h = self.c_fc(x)
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))
        return self.c_proj(h)


class HFBlock(nn.Module):
    def __init__(self, d, n_head, ctx):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(d, eps=1e-5), HFAttention(d, n_head, ctx)
        self.ln_2, self.mlp = nn.LayerNorm(d, eps=1e-5), HFMLP(d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class HFTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["emb_dim"]
        self.wte = nn.Embedding(cfg["vocab_size"], d)
        self.wpe = nn.Embedding(cfg["context_length"], d)
        self.h = nn.ModuleList([HFBlock(d, cfg["n_heads"], cfg["context_length"]) for _ in range(cfg["n_layers"])])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for blk in self.h:
            x = blk(x)
        return self.ln_f(x)


class HFGPT2LMHeadModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.transformer = HFTransformer(cfg)
        self.lm_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, ids, labels=None):
        logits = self.lm_head(self.transformer(ids))
        if labels is None:
            return logits, None
        shift_logits = logits[..., :-1, :].contiguous()
        shift_labels = labels[..., 1:].contiguous()
        loss = F.cross_entropy(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1), ignore_index=-100)
        return logits, loss


def hf_lm_model(cfg, hf_sd):
    """An HFGPT2LMHeadModel holding hf_state()'s tensors (names without the
    "transformer." prefix, as GPT2Model's state_dict), frozen, eval mode."""
    m = HFGPT2LMHeadModel(cfg)
    m.transformer.load_state_dict({k: v.clone() for k, v in hf_sd.items()}, strict=False)
    m.lm_head.weight = m.transformer.wte.weight
    for p in m.parameters():
        p.requires_grad_(False)
    return m.eval()


def peft_inject(model, targets, rank, alpha, dropout=0.0):
    """PEFT's LoraConfig(target_modules=targets) on the HF model: wraps each
    named Conv1D of every block, in module order; returns
    [(PEFT name, layer, site, PeftLoraConv1D)]."""
    sites = {"attn.c_attn": "qkv", "attn.c_proj": "attn_out", "mlp.c_fc": "fc", "mlp.c_proj": "fc_proj"}
    out = []
    for i, blk in enumerate(model.transformer.h):
        for path in sites:
            if path not in targets:
                continue
            parent_name, attr = path.split(".")
            parent = getattr(blk, parent_name)
            wrapped = PeftLoraConv1D(getattr(parent, attr), rank, alpha, dropout)
            setattr(parent, attr, wrapped)
            out.append((f"base_model.model.transformer.h.{i}.{path}", i, sites[path], wrapped))
    return out


def lm_labels(tokens, lengths, prompt_lengths):
    """HF labels for a right-padded batch: the tokens, with -100 on each
    sequence's prompt (its first prompt_lengths[b] tokens) and padding."""
    labels = tokens.clone()
    for b in range(tokens.shape[0]):
        labels[b, :int(prompt_lengths[b])] = -100
        labels[b, int(lengths[b]):] = -100
    return labels


# ---------------------------------------------------------------------------
# safetensors, written by hand (8-byte LE header length, JSON, raw data)

DTYPES = {np.dtype("float32"): "F32", np.dtype("int32"): "I32", np.dtype("float64"): "F64"}


def save_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        if isinstance(arr, torch.Tensor):
            arr = arr.detach().cpu().numpy()
        arr = np.ascontiguousarray(arr)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        if arr.dtype == np.int64:
            arr = arr.astype(np.int32)
        b = arr.tobytes()
        header[name] = {"dtype": DTYPES[arr.dtype], "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)  # data starts 8-aligned: floats usable in place
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def fixture_out_dir():
    """Where a fixture script writes: its first argument, or the checkout's
    tests/fixtures/engine (created)."""
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "fixtures", "engine")
    os.makedirs(out_dir, exist_ok=True)
    return out_dir


def write_fixture(path, tensors, metadata):
    save_safetensors(path, tensors, metadata)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
