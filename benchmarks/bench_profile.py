"""Items per second of batched logit scoring vs per-item generate-and-parse, on the default model.

Also the ratio to the best plain batched forward pass over the same prompts (the machine's
limit for this model: scoring cannot beat one forward pass per item). Everything is measured
in this one run, since these machines are noisy.

    .venv/bin/python benchmarks/bench_profile.py [--model default] [--items 64] [--generate-items 16]
"""

from __future__ import annotations

import argparse
import time

import torch

from econalign.backends import load_backend
from econalign.measure.risk import risk_battery
from econalign.tasks import FAMILIES


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_forward(backend, tasks, batch_sizes=(4, 8, 16, 32, 64)) -> tuple[float, int]:
    """Best items/s of bare forward passes (last-position logits only) over the sorted prompts."""
    texts = sorted((backend.render(t) for t in tasks), key=len)
    best = (0.0, 0)
    with torch.inference_mode():
        for bs in batch_sizes:
            batches = [backend.encode(texts[i : i + bs]) for i in range(0, len(texts), bs)]
            backend.model(**batches[0], logits_to_keep=1, use_cache=False)  # warm-up
            seconds = timed(lambda: [backend.model(**b, logits_to_keep=1, use_cache=False) for b in batches])
            best = max(best, (len(texts) / seconds, bs))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--generate-items", type=int, default=16)
    args = parser.parse_args()

    backend = load_backend(args.model)
    tasks = [t for t in risk_battery(quick=False) if not t.params.get("persona")][: args.items]
    backend.choice_scores(tasks[:4])  # warm-up

    scoring = len(tasks) / timed(lambda: backend.choice_scores(tasks))
    few = tasks[: args.generate_items]
    answers = []
    generating = len(few) / timed(lambda: answers.extend(backend.generate([t], max_new_tokens=32)[0] for t in few))
    parsed = sum(FAMILIES[t.family].parse(a) is not None for t, a in zip(few, answers))
    peak, peak_bs = peak_forward(backend, tasks)

    print(f"model {backend.name}, {len(tasks)} items, torch threads {torch.get_num_threads()}")
    print(f"logit scoring (batch {backend.batch_size}):   {scoring:8.2f} items/s")
    print(f"per-item generate+parse:     {generating:8.2f} items/s ({parsed}/{len(few)} answers parsed)")
    print(f"best bare forward (batch {peak_bs}): {peak:8.2f} items/s")
    print(f"scoring / best bare forward: {scoring / peak:.2f}")


if __name__ == "__main__":
    main()
