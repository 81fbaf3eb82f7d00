"""Agent rollouts' generation throughput against bare batched `generate` on the same prompts.

The runner (`agent/runner.py`: stop at </tool>, answer with the calculator, resume) and one plain
greedy `model.generate` per batch, same prompts, same batch size and token limit, rounds
interleaved. Both count the tokens of the text the model wrote (calculator output excluded),
re-tokenized the same way, so the ratio is tokens/s of the runner over tokens/s of generate.

    .venv/bin/python benchmarks/bench_agent.py [--model default] [--items 32] [--max-new-tokens 128] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from econalign.agent.evaluate import held_out_tasks
from econalign.agent.format import TOOL_OUTPUT_BLOCK, agent_task
from econalign.agent.runner import run_rollouts
from econalign.backends.hf import HFBackend


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    backend = HFBackend.load(args.model, batch_size=args.batch_size)
    tasks = held_out_tasks("pt:alpha=0.88,lambda=2.25", ["gamble", "insurance"], args.items, seed=0)
    prompts = [backend.render(agent_task(t, "agentic")) for t in tasks]

    def tokens(texts):
        return sum(len(backend.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)

    print(f"{len(prompts)} agentic prompts, batch {args.batch_size}, up to {args.max_new_tokens} new tokens per turn, "
          f"torch threads {torch.get_num_threads()}")
    ratios = []
    for r in range(args.rounds):
        start = time.perf_counter()
        rollouts = run_rollouts(backend, prompts, max_new_tokens=args.max_new_tokens)
        t_runner = time.perf_counter() - start
        runner_tokens = tokens(TOOL_OUTPUT_BLOCK.sub("", x.completion) for x in rollouts)  # the model's own text
        start = time.perf_counter()
        plain = backend.complete(prompts, args.max_new_tokens)  # one plain greedy generate per batch
        t_bare = time.perf_counter() - start
        bare_tokens = tokens(plain)
        ratios.append((runner_tokens / t_runner) / (bare_tokens / t_bare))
        calls = sum(len(x.tool_results) for x in rollouts)
        print(f"round {r + 1}: runner {runner_tokens / t_runner:.1f} tokens/s ({runner_tokens} tokens, {calls} tool "
              f"calls, {sum(x.turns for x in rollouts)} turns), bare generate {bare_tokens / t_bare:.1f} tokens/s "
              f"({bare_tokens} tokens): ratio {ratios[-1]:.2f}", flush=True)
    print(f"median ratio {statistics.median(ratios):.2f} over {args.rounds} rounds")


if __name__ == "__main__":
    main()
