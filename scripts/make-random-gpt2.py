#!/usr/bin/python3
"""Writes a GPT-2 checkpoint of random weights, laid out like Hugging Face's.

    /usr/bin/python3 scripts/make-random-gpt2.py OUT_DIR [--preset gpt2-small]
        [--seed 0] [--dtype F32|F16|BF16] [--prefix] [--no-buffers] [--no-config]

OUT_DIR gets model.safetensors (and config.json unless --no-config) with the
published shapes of the preset, in the key order and data layout of
openai-community/gpt2's model.safetensors: no "transformer." prefix (unless
--prefix), F32, and the h.N.attn.bias causal-mask buffers (unless
--no-buffers). Values follow GPT-2's initialisation (weights N(0, 0.02),
residual projections scaled by 1/sqrt(2 n_layer), LayerNorm weights 1) with
small random biases and LayerNorm offsets so every parameter matters. For
tests and timing where the real weights cannot be downloaded; the numbers
mean nothing. Needs numpy only.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

PRESETS = {  # n_layer, n_embd, n_head (vocab 50257, n_ctx 1024)
    "gpt2-small": (12, 768, 12), "gpt2-medium": (24, 1024, 16),
    "gpt2-large": (36, 1280, 20), "gpt2-xl": (48, 1600, 25),
}
ALIASES = {"gpt2": "gpt2-small", "124M": "gpt2-small", "355M": "gpt2-medium",
           "774M": "gpt2-large", "1558M": "gpt2-xl"}
SIZE = {"F32": 4, "F16": 2, "BF16": 2}


def layout(n_layer, C, V, T, buffers):
    """(name, shape, kind) in the key order of the published file."""
    out = [("wte.weight", [V, C], "w"), ("wpe.weight", [T, C], "w")]
    for l in range(n_layer):
        h = "h.%d." % l
        out += [(h + "ln_1.weight", [C], "ln"), (h + "ln_1.bias", [C], "b")]
        if buffers:
            out += [(h + "attn.bias", [1, 1, T, T], "mask")]
        out += [(h + "attn.c_attn.weight", [C, 3 * C], "w"), (h + "attn.c_attn.bias", [3 * C], "b"),
                (h + "attn.c_proj.weight", [C, C], "wres"), (h + "attn.c_proj.bias", [C], "b"),
                (h + "ln_2.weight", [C], "ln"), (h + "ln_2.bias", [C], "b"),
                (h + "mlp.c_fc.weight", [C, 4 * C], "w"), (h + "mlp.c_fc.bias", [4 * C], "b"),
                (h + "mlp.c_proj.weight", [4 * C, C], "wres"), (h + "mlp.c_proj.bias", [C], "b")]
    out += [("ln_f.weight", [C], "ln"), ("ln_f.bias", [C], "b")]
    return out


def values(rng, shape, kind, n_layer):
    n = int(np.prod(shape))
    if kind == "mask":
        T = shape[-1]
        return np.tril(np.ones((T, T), dtype=np.float32)).reshape(shape)
    if kind == "ln":
        return (1.0 + 0.05 * rng.standard_normal(n, dtype=np.float32)).reshape(shape)
    if kind == "b":
        return (0.01 * rng.standard_normal(n, dtype=np.float32)).reshape(shape)
    std = 0.02 / np.sqrt(2 * n_layer) if kind == "wres" else 0.02
    return (rng.standard_normal(n, dtype=np.float32) * np.float32(std)).reshape(shape)


def encode(x, dtype):
    if dtype == "F32":
        return x.astype("<f4").tobytes()
    if dtype == "F16":
        return x.astype("<f2").tobytes()
    # BF16: round to nearest even on the top 16 bits.
    u = x.astype("<f4").view("<u4").astype(np.uint64)
    u = (u + 0x7fff + ((u >> 16) & 1)) >> 16
    return u.astype("<u2").tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--preset", default="gpt2-small")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="F32", choices=sorted(SIZE))
    ap.add_argument("--prefix", action="store_true", help='name tensors "transformer.*"')
    ap.add_argument("--no-buffers", action="store_true", help="leave out the h.N.attn.bias masks")
    ap.add_argument("--no-config", action="store_true", help="write no config.json")
    a = ap.parse_args()
    preset = ALIASES.get(a.preset, a.preset)
    if preset not in PRESETS:
        sys.exit("unknown preset %r (known: %s)" % (a.preset, ", ".join(PRESETS)))
    n_layer, C, n_head = PRESETS[preset]
    V, T = 50257, 1024
    tensors = layout(n_layer, C, V, T, not a.no_buffers)
    prefix = "transformer." if a.prefix else ""

    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, kind in tensors:
        dt = "F32" if kind == "mask" else a.dtype
        n = int(np.prod(shape)) * SIZE[dt]
        header[prefix + name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)

    os.makedirs(a.out_dir, exist_ok=True)
    path = os.path.join(a.out_dir, "model.safetensors")
    tmp = path + ".tmp"
    rng = np.random.default_rng(a.seed)
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, shape, kind in tensors:
            dt = "F32" if kind == "mask" else a.dtype
            f.write(encode(values(rng, shape, kind, n_layer), dt))
    os.replace(tmp, path)
    cfg_path = os.path.join(a.out_dir, "config.json")
    if a.no_config:
        if os.path.exists(cfg_path):
            os.remove(cfg_path)
    else:
        cfg = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
               "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": T, "n_embd": C,
               "n_head": n_head, "n_inner": None, "n_layer": n_layer, "n_positions": T,
               "vocab_size": V}
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
    print("%s: %s %s, seed %d, %d tensors, %d bytes" % (path, preset, a.dtype, a.seed, len(tensors),
                                                     os.path.getsize(path)))


if __name__ == "__main__":
    main()
