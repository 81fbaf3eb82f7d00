"""Seconds per training step of align's cached trainer with and without running a batch's common prefix once,
and seconds per item to cache the frozen layers' states against a plain full forward pass, on the default model.

Rounds are interleaved in this one run, since these machines are noisy; the ratios are what to read.

    .venv/bin/python benchmarks/bench_cached.py [--preference crra:r=2] [--draws curves] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
from bench_profile import timed  # this folder is on the path when run as a script
from peft import get_peft_model

from econalign.backends.hf import HFBackend
from econalign.data.decisions import decision_records
from econalign.tasks.base import Task
from econalign.training.cached import cached_states, shared_prefix, top_logits, top_model
from econalign.training.config import LoraSettings
from econalign.training.sft import lora_config


def plain_states(model, seqs, split, batch_size):
    """The naive way: every layer and the LM head on right-padded batches, states taken from the hidden states."""
    with torch.inference_mode():
        for start in range(0, len(seqs), batch_size):
            part = seqs[start : start + batch_size]
            tokens = torch.zeros((len(part), max(map(len, part))), dtype=torch.long)
            for r, s in enumerate(part):
                tokens[r, : len(s)] = torch.tensor(s)
            model(input_ids=tokens, output_hidden_states=True).hidden_states[split]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preference", default="crra:r=2")
    ap.add_argument("--draws", default="curves")
    ap.add_argument("--items", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--top-layers", type=int, default=6)
    args = ap.parse_args()
    torch.manual_seed(0)
    backend = HFBackend.load("default")
    full = backend.model.float()
    records, _ = decision_records(args.preference, args.items, seed=0, draws=args.draws)
    seqs = [backend.tokenizer(backend.render(Task(**r["task"])), add_special_tokens=False)["input_ids"]
            for r in records]
    split = full.config.num_hidden_layers - args.top_layers
    states = cached_states(full, seqs, split, 16)
    base = top_model(full, split)
    top = get_peft_model(base, lora_config(LoraSettings(r=16, alpha=32, dropout=0.0, top_layers=args.top_layers), base))
    batches = [np.random.default_rng(k).permutation(len(seqs))[:16] for k in range(args.steps)]

    def steps(share: bool):
        for idx in batches:
            shared = shared_prefix([seqs[i] for i in idx]) if share else 0
            top_logits(top, [states[i] for i in idx], shared).logsumexp(-1).sum().backward()

    print(f"{args.preference} {args.draws}: {len(seqs)} items, {np.mean([len(s) for s in seqs]):.0f} tokens each, "
          f"layers {split}.. trained")
    steps(True)  # warm-up
    rows = []
    for r in range(args.rounds):
        t = {"plain": timed(lambda: plain_states(full, seqs, split, 16)) / len(seqs),
             "cached": timed(lambda: cached_states(full, seqs, split, 16)) / len(seqs),
             "step": timed(lambda: steps(False)) / args.steps, "step shared": timed(lambda: steps(True)) / args.steps}
        rows.append(t)
        print(f"round {r + 1}: caching {t['cached']:.3f} s/item vs plain forward {t['plain']:.3f} "
              f"({t['plain'] / t['cached']:.2f}x); step {t['step shared']:.2f} s shared vs {t['step']:.2f} s "
              f"({t['step'] / t['step shared']:.2f}x)")
    print(f"median: caching {statistics.median(r['plain'] / r['cached'] for r in rows):.2f}x faster than a plain "
          f"forward; a step {statistics.median(r['step'] / r['step shared'] for r in rows):.2f}x faster with "
          "the common prefix run once")


if __name__ == "__main__":
    main()
