"""Battery scoring: econalign's prefix-tree logit scoring against lm-evaluation-harness, same items.

Both score the same prompts on the same model object (fp32): econalign's `choice_scores`, and
lm-evaluation-harness's `HFLM.loglikelihood` on every first-token variant of every option (its
logits cache on, so each prompt runs once), turned into choice probabilities the same way.
Rounds are interleaved, since this machine's speed varies with load; printed: items/s of both,
the ratio per round and its median, the largest probability difference, the tokens each forward
pass runs, and scoring's share of the machine's measured fp32 matrix throughput, counting the
tokens a naive pass would run. With --int8, a third side in every round: econalign's scoring of a copy of
the model whose transformer layers' linear maps run in int8 (torch's dynamic quantization; the LM head
stays fp32), its items/s, its ratio to lm-evaluation-harness and its probability differences from fp32.
econalign does not offer int8: on a trained model it moved the estimates out of their fp32 intervals
(README, Figures); --int8 --estimates profiles the model both ways and prints each estimate against the
fp32 interval.

    pip install lm-eval   # a benchmark extra, not a dependency of econalign
    .venv/bin/python benchmarks/bench_vs_lm_eval.py [--rounds 2] [--battery quick|full] [--batch-size 16]
        [--int8 [--estimates]] [--model default|PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from econalign.backends.hf import HFBackend
from econalign.backends.prefix_tree import plan, tokens_run
from econalign.measure.risk import risk_battery


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def lm_eval_probs(lm, backend, tasks, batch_size):
    """Choice probabilities from lm-evaluation-harness's log-likelihoods of each option's first tokens."""
    from lm_eval.api.instance import Instance

    requests, owners = [], []
    for i, task in enumerate(tasks):
        context = backend.render(task)
        for k, group in enumerate(backend.option_token_ids(task.options)):
            for token in group:
                requests.append(Instance("loglikelihood", {}, (context, backend.tokenizer.decode([token])), len(requests)))
                owners.append((i, k))
    loglik = [ll for ll, _ in lm.loglikelihood(requests, disable_tqdm=True)]
    option_logp = {}
    for (i, k), ll in zip(owners, loglik):
        option_logp.setdefault(i, {}).setdefault(k, []).append(ll)
    probs = np.zeros((len(tasks), 2))
    for i, by_option in option_logp.items():
        lo = np.array([np.logaddexp.reduce(by_option[k]) for k in sorted(by_option)])
        probs[i, : len(lo)] = np.exp(lo - np.logaddexp.reduce(lo))
    return probs


def matmul_flops(seconds: float = 2.0) -> float:
    """fp32 FLOP/s of this machine on the model's own matrix shapes (a prompt's 256 tokens x 576 x 1536)."""
    a, b = torch.randn(256, 576), torch.randn(576, 1536)
    a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        n += 1
    return 2 * 256 * 576 * 1536 * n / (time.perf_counter() - start)


def int8_copy(model: str, batch_size: int) -> HFBackend:
    """The model loaded again, its transformer layers' linear maps quantized to int8 in place."""
    import warnings

    backend = HFBackend.load(model, device="cpu", batch_size=batch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's notice that it moves to torchao
        torch.ao.quantization.quantize_dynamic(backend.model.base_model, {torch.nn.Linear}, dtype=torch.qint8,
                                               inplace=True)
    return backend


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--battery", choices=["quick", "full"], default="quick")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--int8", action="store_true", help="also score with int8 linear layers")
    parser.add_argument("--estimates", action="store_true", help="with --int8: the full risk profile both ways")
    args = parser.parse_args()
    from lm_eval.models.huggingface import HFLM

    backend = HFBackend.load(args.model, device="cpu", batch_size=args.batch_size)
    lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=args.batch_size, device="cpu")
    tasks = risk_battery(quick=args.battery == "quick")
    seqs = [backend.tokenizer(backend.render(t), add_special_tokens=False)["input_ids"] for t in tasks]
    naive = sum(map(len, seqs))
    params = sum(p.numel() for n, p in backend.model.named_parameters() if "embed" not in n and "lm_head" not in n)
    print(f"{len(tasks)} items ({args.battery} risk battery), {naive} prompt tokens; the prefix plan runs "
          f"{tokens_run(plan(seqs), seqs, args.batch_size)}; torch threads {torch.get_num_threads()}")

    quantized = int8_copy(args.model, args.batch_size) if args.int8 else None
    backend.choice_scores(tasks[:4])  # warm-up, all
    lm_eval_probs(lm, backend, tasks[:4], args.batch_size)
    if quantized:
        quantized.choice_scores(tasks[:4])
    ratios, diffs, int8_ratios = [], [], []
    for r in range(args.rounds):
        ours, t_ours = timed(lambda: backend.choice_scores(tasks).probs)
        theirs, t_theirs = timed(lambda: lm_eval_probs(lm, backend, tasks, args.batch_size))
        flops = matmul_flops()
        share = 2 * params * naive / t_ours / flops
        ratios.append(t_theirs / t_ours)
        diffs.append(float(np.abs(ours - theirs).max()))
        print(f"round {r + 1}: econalign {len(tasks) / t_ours:.2f} items/s, lm-eval {len(tasks) / t_theirs:.2f} "
              f"items/s, ratio {ratios[-1]:.2f}x; max |p diff| {diffs[-1]:.1e}; matmul {flops / 1e9:.0f} GFLOP/s, "
              f"scoring at {share:.0%} of it over the naive pass's tokens", flush=True)
        if quantized:
            fast, t_fast = timed(lambda: quantized.choice_scores(tasks).probs)
            int8_ratios.append(t_theirs / t_fast)
            print(f"         int8 {len(tasks) / t_fast:.2f} items/s, ratio to lm-eval {int8_ratios[-1]:.2f}x, to fp32 "
                  f"{t_ours / t_fast:.2f}x; |p - fp32 p| max {np.abs(fast - ours).max():.3f}, mean "
                  f"{np.abs(fast - ours).mean():.3f}", flush=True)
    print(f"median ratio {statistics.median(ratios):.2f}x over {args.rounds} rounds; max |p diff| {max(diffs):.1e}"
          + (f"; int8: median ratio {statistics.median(int8_ratios):.2f}x" if quantized else ""))
    if quantized and args.estimates:
        compare_estimates(backend, quantized)


def compare_estimates(exact: HFBackend, quantized: HFBackend) -> None:
    """Each parameter of the full risk profile with int8 against the fp32 estimate and its 95% interval."""
    from econalign.measure.profile import profile

    with tempfile.TemporaryDirectory() as tmp:
        fits = [profile(b, Path(tmp) / name)["estimates"] for b, name in ((exact, "fp32"), (quantized, "int8"))]
    for model, fit in fits[0].items():
        for name, p in fit["params"].items():
            q = fits[1][model]["params"][name]
            lo, hi = p["ci95"] or (p["value"], p["value"])
            print(f"{model} {name}: fp32 {p['value']:.2f} [{lo:.2f}, {hi:.2f}], int8 {q['value']:.2f} "
                  f"({'inside' if lo <= q['value'] <= hi else 'OUTSIDE'})")


if __name__ == "__main__":
    main()
