#!/usr/bin/python3
"""make_lm_fixtures.py - the causal-LM fixtures for tests/test_engine_lm.c.

  /usr/bin/python3 scripts/reference/make_lm_fixtures.py [out_dir]

Over the tiny GPT-2 of make_engine_fixtures.py (tiny.safetensors, rebuilt
here from the same seeds), the language model with its head tied to wte,
trained through LoRA only, in two setups:

lm_peft.safetensors  the Hugging Face-style GPT2LMHeadModel with PEFT's LoRA
                     on attn.c_attn and mlp.c_proj (rank 2, alpha 4: scaling
                     alpha / rank), adapter names as PEFT's
lm_labs.safetensors  the labs' GPTModel (out_head tied to tok_emb) with the
                     labs' LoRA on every Linear of the blocks (rank 2, alpha 4)

each holding, for one batch of 4 right-padded sequences of different
lengths and prompt lengths (tokens [B, T], lengths [B], prompt_lengths [B]):
  init.<adapter>.A, p1.<adapter>.B   the start (B = 0) and a point with random B,
                                     in the engine's layout: A [in, rank], B [rank, out]
  p0.loss, p1.loss [1]               HF's loss: labels = tokens with -100 on the prompt
                                     and the padding, shifted; cross_entropy(ignore_index=-100)
  p0.grad.*, p1.grad.*               d loss / d A, d B (engine layout)
  p1.logits [B, T, V]                the LM logits at every position (padding included)
  nomask.p1.loss, nomask.p1.grad.*   the same with no prompt masked (every next token counts)
  adamw3.*                           A and B after 3 torch AdamW steps from p1 (lr 5e-3,
                                     weight decay 0.1, the adapters only)
  metadata: adapters [[name, layer, site, in, out, rank], ...], rank, alpha, lr, weight_decay
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_lora_ref import (GPTModel, fixture_out_dir, hf_lm_model, hf_state, inject, lm_labels,  # noqa: E402
                           peft_inject, write_fixture)
from make_engine_fixtures import CFG, base_model  # noqa: E402

torch.set_num_threads(1)
RANK, ALPHA, LR, WD = 2, 4.0, 5e-3, 0.1


def batch():
    g = torch.Generator().manual_seed(21)
    B, T, pad = 4, 10, CFG["vocab_size"] - 1
    lengths = torch.tensor([10, 7, 4, 2])
    prompt_lengths = torch.tensor([4, 0, 2, 1])
    tokens = torch.randint(0, CFG["vocab_size"] - 1, (B, T), generator=g)
    for b in range(B):
        tokens[b, lengths[b]:] = pad
    return tokens, lengths, prompt_lengths


class Setup:
    """A model with its adapters, as (name, layer, site, get A/B in engine layout, set them)."""

    def __init__(self, style, base_sd, hf_sd):
        torch.manual_seed(1000)
        if style == "peft":
            self.model = hf_lm_model(CFG, hf_sd)
            ads = peft_inject(self.model, ["attn.c_attn", "mlp.c_proj"], RANK, ALPHA)
            self.adapters = [(n, l, s, lo.lora_A.weight, lo.lora_B.weight, True) for n, l, s, lo in ads]
        else:
            self.model = GPTModel(CFG)
            self.model.load_state_dict(base_sd)
            self.model.out_head.weight = self.model.tok_emb.weight
            self.model.eval()
            ads = inject(self.model, "labs", RANK, ALPHA / RANK)
            self.adapters = [(n, l, s, lo.A, lo.B, False) for n, l, s, lo in ads]
        self.style = style

    def params(self):
        return [p for a in self.adapters for p in a[3:5]]

    @staticmethod
    def engine(t, transposed):
        return (t.t() if transposed else t).detach().contiguous().clone()

    def set_B(self, values):
        with torch.no_grad():
            for (n, _, _, _, B, tr), v in zip(self.adapters, values):
                B.copy_(v.t() if tr else v)

    def loss(self, tokens, lengths, prompt_lengths):
        labels = lm_labels(tokens, lengths, prompt_lengths)
        if self.style == "peft":
            return self.model(tokens, labels)
        logits = self.model(tokens)
        loss = F.cross_entropy(logits[:, :-1, :].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                               ignore_index=-100)
        return logits, loss


def run(style, out_dir, base_sd, hf_sd):
    tokens, lengths, prompts = batch()
    s = Setup(style, base_sd, hf_sd)
    out = {"tokens": tokens, "lengths": lengths, "prompt_lengths": prompts}
    for n, _, _, A, _, tr in s.adapters:
        out[f"init.{n}.A"] = Setup.engine(A, tr)
    g = torch.Generator().manual_seed(99)
    p1_B = []  # engine layout [rank, out]
    for n, _, _, _, B, tr in s.adapters:
        shape = B.t().shape if tr else B.shape
        p1_B.append(0.1 * torch.randn(shape, generator=g))
        out[f"p1.{n}.B"] = p1_B[-1]

    def grads_at(prefix, prompt_lengths):
        for p in s.params():
            p.grad = None
        logits, loss = s.loss(tokens, lengths, prompt_lengths)
        loss.backward()
        out[prefix + ".loss"] = loss.detach().reshape(1).clone()
        for n, _, _, A, B, tr in s.adapters:
            out[f"{prefix}.grad.{n}.A"] = Setup.engine(A.grad, tr)
            out[f"{prefix}.grad.{n}.B"] = Setup.engine(B.grad, tr)
        return logits, loss.item()

    s.set_B([torch.zeros_like(b) for b in p1_B])
    _, l0 = grads_at("p0", prompts)
    s.set_B(p1_B)
    logits, l1 = grads_at("p1", prompts)
    out["p1.logits"] = logits.detach().clone()
    _, ln = grads_at("nomask.p1", torch.zeros_like(prompts))
    print(f"{style}: loss p0 {l0:.6f} p1 {l1:.6f} (no prompt masked: {ln:.6f})")

    s.set_B(p1_B)
    opt = torch.optim.AdamW(s.params(), lr=LR, weight_decay=WD)
    for _ in range(3):
        opt.zero_grad()
        _, loss = s.loss(tokens, lengths, prompts)
        loss.backward()
        opt.step()
    for n, _, _, A, B, tr in s.adapters:
        out[f"adamw3.{n}.A"] = Setup.engine(A, tr)
        out[f"adamw3.{n}.B"] = Setup.engine(B, tr)

    meta = {
        "adapters": json.dumps([[n, layer, site, out[f"init.{n}.A"].shape[0], out[f"p1.{n}.B"].shape[1], RANK]
                                for n, layer, site, *_ in s.adapters]),
        "rank": RANK, "alpha": ALPHA, "lr": LR, "weight_decay": WD,
    }
    path = os.path.join(out_dir, f"lm_{style}.safetensors")
    write_fixture(path, out, meta)


def main():
    out_dir = fixture_out_dir()
    model = base_model()
    base_sd = {k: v.clone() for k, v in model.state_dict().items()}
    hf_sd = hf_state(model)
    for style in ("peft", "labs"):
        run(style, out_dir, base_sd, hf_sd)


if __name__ == "__main__":
    main()
