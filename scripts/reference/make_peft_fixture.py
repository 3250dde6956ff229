#!/usr/bin/python3
"""make_peft_fixture.py - writes tests/fixtures/peft/: adapters in the exact
layout Python PEFT's save_pretrained() gives a GPT2ForSequenceClassification
(written here by hand: PEFT itself is not installed), for the tiny GPT-2 of
tests/fixtures/merge/base, and the logits PyTorch computes with them, for
tests/test_peft_import.c.

  /usr/bin/python3 scripts/reference/make_peft_fixture.py [out_dir]

seq_cls/: adapter_config.json with PEFT's fields (peft_type LORA, task_type
SEQ_CLS, r 2, lora_alpha 3, use_rslora true: scale alpha / sqrt(r),
target_modules [c_attn, c_proj, c_fc] (c_proj: both attn.c_proj and
mlp.c_proj), fan_in_fan_out true, modules_to_save [classifier, score], ...)
and adapter_model.safetensors with PEFT's keys:
base_model.model.transformer.h.N.<module>.lora_A.weight [r, in],
...lora_B.weight [out, r], base_model.model.score.weight [3, C] (the score
of GPT2ForSequenceClassification has no bias).
bare/: the same tensors under the other spellings PEFT versions and
wrappers give: no "base_model.model." nor "transformer." prefix, the head
as score.modules_to_save.default.weight.
dora/, other_base/: refused (use_dora; LLaMA's q_proj / v_proj targets).
expected.safetensors: tokens [2, 7] (I32), lengths [2], logits [2, 3]:
PEFT's forward (x W + b + lora_B(lora_A(x)) * alpha / sqrt(r)), read at
each text's last token, score without bias.
"""
import copy
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_lora_ref import save_safetensors  # noqa: E402
import make_merge_fixture as mf  # noqa: E402

RANK, ALPHA = 2, 3.0
SITES = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]
CONFIG = {  # every field PEFT 0.13's LoraConfig.save_pretrained writes, in its order
    "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "gpt2", "bias": "none",
    "fan_in_fan_out": True, "inference_mode": True, "init_lora_weights": True, "layer_replication": None,
    "layers_pattern": None, "layers_to_transform": None, "loftq_config": {}, "lora_alpha": ALPHA,
    "lora_dropout": 0.1, "megatron_config": None, "megatron_core": "megatron.core",
    "modules_to_save": ["classifier", "score"], "peft_type": "LORA", "r": RANK, "rank_pattern": {},
    "revision": None, "target_modules": ["c_attn", "c_proj", "c_fc"], "task_type": "SEQ_CLS",
    "use_dora": False, "use_rslora": True}


def tensors(g):
    C = mf.CFG["emb_dim"]
    dims = {"attn.c_attn": (C, 3 * C), "attn.c_proj": (C, C), "mlp.c_fc": (C, 4 * C), "mlp.c_proj": (4 * C, C)}
    t = {}
    for i in range(mf.CFG["n_layers"]):
        for s in SITES:
            n_in, n_out = dims[s]
            k = f"base_model.model.transformer.h.{i}.{s}."
            t[k + "lora_A.weight"] = 0.3 * torch.randn(RANK, n_in, generator=g)
            t[k + "lora_B.weight"] = 0.3 * torch.randn(n_out, RANK, generator=g)
    t["base_model.model.score.weight"] = 0.5 * torch.randn(mf.N_CLASSES, C, generator=g)
    return t


def bare(t):
    out = {}
    for k, v in t.items():
        k = k.replace("base_model.model.", "").replace("transformer.", "")
        out[k.replace("score.", "score.modules_to_save.default.")] = v
    return out


def write(out, name, config, t):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    save_safetensors(os.path.join(d, "adapter_model.safetensors"), t, {"format": "pt"})
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "fixtures", "peft")
    sd, _ = mf.build()  # the base of tests/fixtures/merge/base
    g = torch.Generator().manual_seed(23)
    t = tensors(g)
    write(out, "seq_cls", CONFIG, t)
    write(out, "bare", CONFIG, bare(t))
    dora = copy.deepcopy(CONFIG)
    dora["use_dora"] = True
    write(out, "dora", dora, t)
    other = copy.deepcopy(CONFIG)
    other["target_modules"] = ["q_proj", "v_proj"]
    other["base_model_name_or_path"] = "meta-llama/Llama-2-7b-hf"
    write(out, "other_base", other, t)
    scale = ALPHA / RANK ** 0.5

    def delta(i, name, z):
        k = f"base_model.model.transformer.h.{i}.{name}."
        return scale * (z @ t[k + "lora_A.weight"].t() @ t[k + "lora_B.weight"].t())

    with torch.no_grad():
        logits = mf.forward(sd, delta, t["base_model.model.score.weight"], torch.zeros(mf.N_CLASSES),
                            torch.tensor(mf.TOKENS), torch.tensor(mf.LENGTHS))
    save_safetensors(os.path.join(out, "expected.safetensors"),
                     {"tokens": torch.tensor(mf.TOKENS, dtype=torch.int32),
                      "lengths": torch.tensor(mf.LENGTHS, dtype=torch.int32), "logits": logits})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
