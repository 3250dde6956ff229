#!/usr/bin/python3
"""Writes the safetensors and tiny GPT-2 fixtures under tests/fixtures/safetensors/.

The files are written by hand here (struct + json + numpy, no safetensors
package) so the C tests compare lorafit's reader against an independent
writer, and the expected values against numpy's own conversions.

    /usr/bin/python3 scripts/make-safetensors-fixtures.py          # regenerate
    /usr/bin/python3 scripts/make-safetensors-fixtures.py --check FILE...

--check reads files with the rules of the reference implementation
(huggingface/safetensors: header starts with '{', tensors cover the data
section contiguously in offset order, sizes match) and prints each tensor;
it is how we check that files lorafit writes are readable elsewhere.
"""
import json
import os
import struct
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "safetensors")

NP = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
      "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?", "BF16": "<u2"}
SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
        "I8": 1, "U8": 1, "BOOL": 1}


def write_safetensors(path, tensors, metadata=None, header_order=None):
    """tensors: list of (name, dtype, shape, raw bytes). Data goes in the
    given order; the header lists keys in header_order (default: same)."""
    entries, blobs, off = {}, [], 0
    for name, dtype, shape, raw in tensors:
        n = int(np.prod(shape, dtype=np.int64)) * SIZE[dtype]
        assert len(raw) == n, (name, len(raw), n)
        entries[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + n]}
        blobs.append(raw)
        off += n
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    for name in header_order or [t[0] for t in tensors]:
        header[name] = entries[name]
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def f32_hex(values):
    return " ".join("%08x" % v for v in np.asarray(values, dtype="<f4").view("<u4"))


def basic():
    """Every dtype class, a scalar, a zero-size tensor, metadata, and the
    special values of each float format."""
    f16_bits = np.array([0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00,
                         0xfc00, 0x7e00, 0x3c00, 0xc000, 0x3555, 0x8001, 0x7c01], dtype="<u2")
    bf16_bits = np.array([0x0000, 0x8000, 0x0001, 0x007f, 0x0080, 0x7f7f, 0x7f80,
                          0xff80, 0x7fc0, 0x3f80, 0xc049, 0x3eaa], dtype="<u2")
    f32 = np.array([[1.5, -2.0, 0.1], [3e38, -0.0, 1e-40]], dtype="<f4")
    f64 = np.array([0.1, -1e300], dtype="<f8")  # -1e300 overflows float32 to -inf
    i64 = np.array([-1, 0, 1 << 40], dtype="<i8")
    u8 = np.array([0, 7, 255], dtype="u1")
    scalar = np.array(42.5, dtype="<f4")
    uni = np.array([-7.25], dtype="<f4")
    # Data in reference order (largest element first) so the file is also
    # valid for the strict reference reader; header order differs on purpose.
    tensors = [
        ("f64", "F64", [2], f64.tobytes()),
        ("i64", "I64", [3], i64.tobytes()),
        ("f32_2x3", "F32", [2, 3], f32.tobytes()),
        ("scalar", "F32", [], scalar.tobytes()),
        ("empty", "F32", [0, 4], b""),
        ("ünicode.näme", "F32", [1], uni.tobytes()),
        ("f16_specials", "F16", [2, 7], f16_bits.tobytes()),
        ("bf16_specials", "BF16", [12], bf16_bits.tobytes()),
        ("u8", "U8", [3], u8.tobytes()),
    ]
    order = ["f32_2x3", "f16_specials", "bf16_specials", "i64", "scalar", "empty", "f64", "u8",
             "ünicode.näme"]
    meta = {"format": "pt", "note": 'h\u00e9llo "quoted"'}
    write_safetensors(os.path.join(OUT, "basic.safetensors"), tensors, meta, order)

    # Expected values, converted by numpy (BF16: numpy has no bfloat16; its
    # definition is the top 16 bits of a float32).
    exp = {
        "f32_2x3": f32.ravel(),
        "f16_specials": f16_bits.view("<f2").astype("<f4"),
        "bf16_specials": (bf16_bits.astype("<u4") << 16).view("<f4"),
        "scalar": scalar.ravel(),
        "empty": np.zeros(0, dtype="<f4"),
        "f64": f64.astype("<f4"),
        "ünicode.näme": uni,
    }
    shapes = {t[0]: (t[1], t[2]) for t in tensors}
    with open(os.path.join(OUT, "basic.expected"), "w", encoding="utf-8") as f:
        f.write("# name dtype ndim dims... then f32 bits (numpy's conversion) or raw bytes\n")
        for name in order:
            dtype, shape = shapes[name]
            f.write("tensor %s %s %d%s\n" % (name, dtype, len(shape), "".join(" %d" % d for d in shape)))
            if name in exp:
                f.write("f32 %s\n" % f32_hex(exp[name]))
            else:
                raw = [t[3] for t in tensors if t[0] == name][0]
                f.write("raw %s\n" % raw.hex())
        for k, v in meta.items():
            f.write("meta %s\t%s\n" % (k, v))


# ---- tiny GPT-2 ---------------------------------------------------------

TINY = dict(n_layer=2, n_embd=8, n_head=2, vocab_size=11, n_ctx=6)
LAYER_PARTS = ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
               "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
               "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"]


def tiny_params():
    """(name, shape, values) in canonical order. Tensor k element i holds
    ((k*131 + i*7) % 97 - 48) / 16: exact in F16 and BF16 too, so every
    dtype variant has the same values, and tests/test_checkpoint.c computes
    them from the same formula."""
    C, V, T, L = TINY["n_embd"], TINY["vocab_size"], TINY["n_ctx"], TINY["n_layer"]
    shapes = [("wte.weight", [V, C]), ("wpe.weight", [T, C])]
    for l in range(L):
        dims = {"ln_1.weight": [C], "ln_1.bias": [C], "attn.c_attn.weight": [C, 3 * C],
                "attn.c_attn.bias": [3 * C], "attn.c_proj.weight": [C, C], "attn.c_proj.bias": [C],
                "ln_2.weight": [C], "ln_2.bias": [C], "mlp.c_fc.weight": [C, 4 * C],
                "mlp.c_fc.bias": [4 * C], "mlp.c_proj.weight": [4 * C, C], "mlp.c_proj.bias": [C]}
        shapes += [("h.%d.%s" % (l, p), dims[p]) for p in LAYER_PARTS]
    shapes += [("ln_f.weight", [C]), ("ln_f.bias", [C])]
    out = []
    for k, (name, shape) in enumerate(shapes):
        i = np.arange(int(np.prod(shape)), dtype=np.int64)
        v = (((k * 131 + i * 7) % 97) - 48) / 16.0
        out.append((name, shape, v.astype("<f4").reshape(shape)))
    return out


def encode(values, dtype):
    if dtype == "F32":
        return values.astype("<f4").tobytes()
    if dtype == "F16":
        h = values.astype("<f2")
        assert np.array_equal(h.astype("<f4"), values)
        return h.tobytes()
    if dtype == "BF16":
        bits = values.astype("<f4").view("<u4")
        assert np.all(bits & 0xffff == 0)
        return (bits >> 16).astype("<u2").tobytes()
    raise ValueError(dtype)


def tiny_checkpoint(dirname, dtype="F32", prefix="", buffers=True, lm_head=False, config=True):
    d = os.path.join(OUT, dirname)
    os.makedirs(d, exist_ok=True)
    params = tiny_params()
    T = TINY["n_ctx"]
    tensors = [(prefix + n, dtype, s, encode(v, dtype)) for n, s, v in params]
    if buffers:
        mask = np.tril(np.ones((T, T), dtype="<f4")).reshape(1, 1, T, T)
        for l in range(TINY["n_layer"]):
            tensors.append((prefix + "h.%d.attn.bias" % l, "F32", [1, 1, T, T], mask.tobytes()))
            tensors.append((prefix + "h.%d.attn.masked_bias" % l, "F32", [], np.array(-1e4, "<f4").tobytes()))
    if lm_head:
        wte = params[0]
        tensors.append(("lm_head.weight", dtype, wte[1], encode(wte[2], dtype)))
    # Data sorted by element size (reference order); header order shuffled
    # so the reader must go by name, not position.
    tensors.sort(key=lambda t: -SIZE[t[1]])
    rng = np.random.default_rng(len(dirname))
    order = [t[0] for t in tensors]
    rng.shuffle(order)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors, {"format": "pt"}, order)
    cfg_path = os.path.join(d, "config.json")
    if config:
        cfg = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
               "model_type": "gpt2", "n_ctx": T, "n_positions": T, "n_embd": TINY["n_embd"],
               "n_head": TINY["n_head"], "n_layer": TINY["n_layer"], "n_inner": None,
               "layer_norm_epsilon": 1e-05, "vocab_size": TINY["vocab_size"]}
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
    elif os.path.exists(cfg_path):
        os.remove(cfg_path)


def fnv_u64(h, v):
    for i in range(8):
        h = ((h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3) & 0xffffffffffffffff
    return h


def fingerprint(params, cfg, qkv_bias=True):
    """checkpoint_fingerprint() (include/lorafit/io/checkpoint.h), written again
    from its description: FNV-1a 64 over the config, then per weight its
    element count and its first 8 and last 8 float32 values (all if <= 16)."""
    h = 0xcbf29ce484222325
    for v in (cfg["n_layer"], cfg["n_embd"], cfg["n_head"], cfg["vocab_size"], cfg["n_ctx"], int(qkv_bias)):
        h = fnv_u64(h, v & 0xffffffffffffffff)
    for name, shape, values in params:
        flat = values.astype("<f4").ravel()
        n = flat.size
        h = fnv_u64(h, n)
        idx = list(range(n)) if n <= 16 else list(range(8)) + list(range(n - 8, n))
        for i in idx:
            h = fnv_u64(h, int(flat[i:i + 1].view("<u4")[0]))
    return h or 1


# ---- strict reader -------------------------------------------------------

def check(path):
    """Reads path with the reference implementation's rules; raises on any
    violation, prints the tensors otherwise."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    assert n <= 100_000_000 and 8 + n <= len(buf), "header length"
    text = buf[8:8 + n].decode("utf-8")
    assert text.startswith("{"), "header must start with '{'"
    header = json.loads(text)
    meta = header.pop("__metadata__", None)
    assert meta is None or all(isinstance(v, str) for v in meta.values()), "metadata"
    data = buf[8 + n:]
    end = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        b, e = info["data_offsets"]
        assert b == end, "%s: gap or overlap at %d (expected %d)" % (name, b, end)
        size = int(np.prod(info["shape"], dtype=np.int64)) * SIZE[info["dtype"]]
        assert e - b == size, "%s: size" % name
        end = e
    assert end == len(data), "data section has %d bytes, tensors cover %d" % (len(data), end)
    print("%s: ok, %d tensors, metadata %s, header %d bytes (multiple of 8: %s)"
          % (path, len(header), json.dumps(meta, ensure_ascii=False), n, n % 8 == 0))
    for name, info in header.items():
        b, e = info["data_offsets"]
        raw = data[b:e]
        dt = info["dtype"]
        if dt == "BF16":
            vals = (np.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4")
        else:
            vals = np.frombuffer(raw, NP[dt])
        print("  %s %s %s %s" % (name, dt, info["shape"], vals.ravel()[:8].tolist()))


def main():
    np.seterr(over="ignore")  # the F64 fixture overflows float32 on purpose
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        for p in sys.argv[2:]:
            check(p)
        return
    os.makedirs(OUT, exist_ok=True)
    basic()
    tiny_checkpoint("tiny")
    tiny_checkpoint("tiny-prefix", prefix="transformer.", buffers=False, lm_head=True)
    tiny_checkpoint("tiny-f16", dtype="F16")
    tiny_checkpoint("tiny-bf16", dtype="BF16", prefix="transformer.")
    with open(os.path.join(OUT, "tiny.fingerprint"), "w") as f:
        f.write("%016x\n" % fingerprint(tiny_params(), TINY))
    for name in sorted(os.listdir(OUT)):
        p = os.path.join(OUT, name)
        if name.endswith(".safetensors"):
            check(p)
        elif os.path.isdir(p):
            check(os.path.join(p, "model.safetensors"))


if __name__ == "__main__":
    main()
