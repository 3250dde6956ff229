"""Reference NF4 (bitsandbytes) and Q8_0-style int8 quantization, in numpy.

Written from the bitsandbytes and GGML descriptions, not from lorafit's C:

NF4 (bitsandbytes functional.quantize_4bit, quant_type="nf4",
blocksize=64, compress_statistics=True):
  - the tensor is flattened (row-major) and cut into blocks of 64; each
    block's absmax = max |w|;
  - each weight is normalized as w * (1 / absmax) (kQuantizeBlockwise
    multiplies by the reciprocal) and coded by dQuantizeNF4's decision tree,
    whose thresholds are the midpoints between neighbouring NF4 levels:
    code = number of thresholds t with x > t;
  - two codes a byte, the first element in the high nibble
    (qvals[j] = code(v[2j]) << 4 | code(v[2j+1]));
  - double quantization: offset = mean(absmax); the centred absmaxes
    (absmax - offset) are quantized with quantize_blockwise(blocksize=256)
    over bitsandbytes' signed dynamic map (create_dynamic_map(signed=True)):
    per block of 256 an fp32 absmax2, codes the nearest map entry to
    a / absmax2;
  - dequantize: absmax' = map[q2] * absmax2 + offset, w' = NF4[code] * absmax'
    (all in fp32).

int8 (GGML quantize_row_q8_0_ref, block QK8_0 = 32):
  d = amax / 127, id = 1 / d (0 when d = 0), q = roundf(w * id) (half away
  from zero), w' = q * d.

Where lorafit departs from them (the C does the same, documented in
include/lorafit/engine/quant.h):
  - NF4: an all-zero block (absmax 0) gets the code of level 0.0 (7) instead
    of the NaN bitsandbytes' 0 * (1/0) produces (which its tree codes 0 and
    dequantizes to -0.0); when 1/absmax overflows (subnormal absmax) w / absmax
    is used;
  - the mean of the absmaxes is a sequential sum in double rounded to fp32
    (torch's fp32 mean sums in another order);
  - the dynamic-map code is the nearest entry (ties to the lower code) rather
    than bitsandbytes' 7-step binary search with midpoints, which agrees
    except at exact midpoints; a zero block of centred absmaxes gets the code
    of 0.0 and scale 0;
  - int8 keeps d in fp32 (Q8_0 stores it as fp16): the weights' full range
    survives (fp16 overflows past 65504 * 127 and loses digits below 6e-5),
    at 36 bytes per 32 weights instead of 34; blocks run over the flattened
    tensor, the last one may be partial (GGML requires whole rows of 32).

Writes tests/fixtures/quant/quant.safetensors (or into argv[1]): for each case
matrix NAME, NAME.w (F32), NAME.nf4.codes (U8), NAME.nf4.absmax_codes (U8),
NAME.nf4.absmax_scales (F32), NAME.nf4.absmax_offset (F32[1]), NAME.nf4.deq,
NAME.q8.codes (I8), NAME.q8.scales (F32), NAME.q8.deq; and dynamic_map (F32[256]).
With --c-table, prints the dynamic map as C hex floats instead.
"""
import os
import sys
from fractions import Fraction

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_lora_ref as ref  # noqa: E402

ref.DTYPES[np.dtype("uint8")] = "U8"
ref.DTYPES[np.dtype("int8")] = "I8"

f32 = np.float32


def f32_literal(text):
    """The fp32 nearest to a decimal literal, as a C or CUDA compiler reads
    "0.8614784181118011f" (going through a double first rounds some of
    dQuantizeNF4's thresholds to the neighbouring float)."""
    exact = Fraction(text)
    c = f32(float(exact))
    cands = [np.nextafter(c, f32(-np.inf)), c, np.nextafter(c, f32(np.inf))]
    return min(cands, key=lambda v: abs(Fraction(float(v)) - exact))


def f32_literals(texts):
    return np.array([f32_literal(t) for t in texts.split()], dtype=f32)


# bitsandbytes' NF4 levels (functional.py get_4bit_type("nf4") / kernels.cu nf4_dequantization_lut)
NF4 = f32_literals("""
    -1.0 -0.6961928009986877 -0.5250730514526367 -0.39491748809814453
    -0.28444138169288635 -0.18477343022823334 -0.09105003625154495 0.0
    0.07958029955625534 0.16093020141124725 0.24611230194568634 0.33791524171829224
    0.44070982933044434 0.5626170039176941 0.7229568362236023 1.0""")
# dQuantizeNF4's thresholds (kernels.cu), ascending
NF4_THRESH = f32_literals("""
    -0.8480964004993439 -0.6106329262256622 -0.4599952697753906 -0.33967943489551544
    -0.23460740596055984 -0.13791173323988914 -0.045525018125772476 0.03979014977812767
    0.1202552504837513 0.2035212516784668 0.2920137718319893 0.3893125355243683
    0.5016634166240692 0.6427869200706482 0.8614784181118011""")


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    """bitsandbytes.functional.create_dynamic_map, verbatim in torch."""
    data = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed
                             else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    if additional_items > 0:
        boundaries = torch.linspace(0.1, 1, additional_items + 1)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    assert len(data) == 2 ** total_bits
    data += [0] * (256 - len(data))
    data.sort()
    return torch.tensor(data).numpy().astype(f32)


DYNAMIC = create_dynamic_map()


def normalize(x, amax):
    """x * (1 / amax) in fp32, or x / amax when the reciprocal overflows."""
    with np.errstate(over="ignore", divide="ignore"):
        inv = f32(1.0) / amax
    return x / amax if np.isinf(inv) else x * inv


def nf4_quantize(w):
    flat = w.reshape(-1).astype(f32)
    n = flat.size
    nb = (n + 63) // 64
    codes = np.zeros(n, dtype=np.uint8)
    absmax = np.zeros(nb, dtype=f32)
    for b in range(nb):
        blk = flat[b * 64:(b + 1) * 64]
        a = f32(np.max(np.abs(blk)))
        absmax[b] = a
        if a == 0:
            codes[b * 64:b * 64 + blk.size] = 7
            continue
        x = normalize(blk, a)
        codes[b * 64:b * 64 + blk.size] = (x[:, None] > NF4_THRESH[None, :]).sum(axis=1)
    padded = np.concatenate([codes, np.zeros(n % 2, dtype=np.uint8)])
    packed = (padded[0::2] << 4) | padded[1::2]
    # double quantization of the absmaxes
    offset = f32(np.cumsum(absmax.astype(np.float64))[-1] / nb)
    centred = absmax - offset
    nb2 = (nb + 255) // 256
    acodes = np.zeros(nb, dtype=np.uint8)
    ascales = np.zeros(nb2, dtype=f32)
    zero_code = int(np.nonzero(DYNAMIC == 0)[0][0])
    for b in range(nb2):
        blk = centred[b * 256:(b + 1) * 256]
        a2 = f32(np.max(np.abs(blk)))
        ascales[b] = a2
        if a2 == 0:
            acodes[b * 256:b * 256 + blk.size] = zero_code
            continue
        x = normalize(blk, a2).astype(np.float64)
        dist = np.abs(x[:, None] - DYNAMIC[None, :].astype(np.float64))
        acodes[b * 256:b * 256 + blk.size] = np.argmin(dist, axis=1)  # first minimum: lower code
    return packed.astype(np.uint8), acodes, ascales, np.array([offset], dtype=f32)


def nf4_dequantize(packed, acodes, ascales, offset, n):
    codes = np.empty(packed.size * 2, dtype=np.uint8)
    codes[0::2] = packed >> 4
    codes[1::2] = packed & 15
    codes = codes[:n]
    idx = np.arange(acodes.size)
    absmax = (DYNAMIC[acodes] * ascales[idx // 256]).astype(f32) + offset[0]
    return (NF4[codes] * absmax[np.arange(n) // 64]).astype(f32)


def roundf(x):
    """C's roundf: half away from zero (x is fp32, so |x| + 0.5 is exact in double)."""
    x = x.astype(np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def q8_quantize(w):
    flat = w.reshape(-1).astype(f32)
    n = flat.size
    nb = (n + 31) // 32
    codes = np.zeros(n, dtype=np.int8)
    scales = np.zeros(nb, dtype=f32)
    for b in range(nb):
        blk = flat[b * 32:(b + 1) * 32]
        amax = f32(np.max(np.abs(blk)))
        d = f32(amax / f32(127))
        scales[b] = d
        if d == 0:
            continue
        codes[b * 32:b * 32 + blk.size] = roundf(normalize(blk, d)).astype(np.int8)
    return codes, scales


def q8_dequantize(codes, scales):
    n = codes.size
    return (codes.astype(f32) * scales[np.arange(n) // 32]).astype(f32)


def cases():
    rng = np.random.default_rng(14)
    out = {}
    out["zeros"] = np.zeros((3, 64), dtype=f32)
    rep = np.empty((3, 64), dtype=f32)
    rep[0], rep[1], rep[2] = 0.5, -3.0, 0.0
    rep[2, 5] = 1e-3  # one nonzero in a block
    out["repeat"] = rep
    # magnitudes from 1e-35 to 1e35 by row, a subnormal block, a partial last block
    mag = rng.standard_normal((9, 45)).astype(f32)
    scale = np.array([1e-35, 1e-20, 1e-5, 1.0, 1e5, 1e20, 1e35, 1e-40, 3.0], dtype=f32)
    out["scales"] = (mag * scale[:, None]).astype(f32)
    # more than 256 blocks of 64 (two absmax blocks, the last partial); 17 x 1003 = 17051
    big = (rng.standard_normal((17, 1003)) * 0.02).astype(f32)
    big[3, :70] = 0.0
    big[5, 10] = 0.5  # an outlier
    out["gauss"] = big
    # exact NF4 levels and midpoints times a block absmax
    lv = np.concatenate([NF4, (NF4[:-1] + NF4[1:]) / 2, NF4_THRESH, -NF4]).astype(f32)
    out["levels"] = (lv[None, :] * np.array([[1.0], [0.25]], dtype=f32)).astype(f32)
    return out


def main():
    if "--c-table" in sys.argv:
        for i in range(0, 256, 4):
            print("    " + ", ".join(float(v).hex() + "f" for v in DYNAMIC[i:i + 4]) + ",")
        return
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "fixtures", "quant")
    os.makedirs(out_dir, exist_ok=True)
    tensors, meta = {"dynamic_map": DYNAMIC}, {}
    names = []
    for name, w in cases().items():
        names.append(name)
        meta[name + ".shape"] = f"{w.shape[0]},{w.shape[1]}"
        tensors[name + ".w"] = w
        packed, acodes, ascales, offset = nf4_quantize(w)
        tensors[name + ".nf4.codes"] = packed
        tensors[name + ".nf4.absmax_codes"] = acodes
        tensors[name + ".nf4.absmax_scales"] = ascales
        tensors[name + ".nf4.absmax_offset"] = offset
        tensors[name + ".nf4.deq"] = nf4_dequantize(packed, acodes, ascales, offset, w.size).reshape(w.shape)
        codes, scales = q8_quantize(w)
        tensors[name + ".q8.codes"] = codes
        tensors[name + ".q8.scales"] = scales
        tensors[name + ".q8.deq"] = q8_dequantize(codes, scales).reshape(w.shape)
    meta["cases"] = ",".join(names)
    # floats first, bytes after: every F32 tensor stays 4-aligned for in-place use
    tensors = dict(sorted(tensors.items(), key=lambda kv: kv[1].dtype.itemsize < 4))
    ref.write_fixture(os.path.join(out_dir, "quant.safetensors"), tensors, meta)


if __name__ == "__main__":
    main()
