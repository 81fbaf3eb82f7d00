"""Agent rollouts' generation throughput against bare batched `generate` on the same prompts.

The runner (`agent/runner.py`: stop at </tool>, answer with the calculator, resume; on a local model
continuous batching, `backends/continuous.py`), the same runner turn by turn (every turn one `generate` per
batch of unfinished rollouts, re-encoding each text: the runner before continuous batching), and one plain
greedy `model.generate` per batch: same prompts, batch size and token limit, rounds interleaved. All count
the tokens of the text the model wrote (calculator output excluded), re-tokenized the same way, so a ratio
is tokens/s over tokens/s of generate. Multi-turn needs a model that calls the calculator, e.g. the CPU SFT
agent of the README (`--model runs/sft/pt-agentic-masked-cpu/model`).

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
from econalign.backends.base import Backend
from econalign.backends.hf import HFBackend


class TurnByTurn(HFBackend):
    """The runner's backend before continuous batching: `Backend.converse`, one `complete` call per turn."""

    converse = Backend.converse


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
    turn_by_turn = TurnByTurn(backend.model, backend.tokenizer, backend.name, args.batch_size)

    def timed(run):
        start = time.perf_counter()
        out = run()
        return out, time.perf_counter() - start

    ratios, before = [], []
    for r in range(args.rounds):
        rollouts, t_runner = timed(lambda: run_rollouts(backend, prompts, max_new_tokens=args.max_new_tokens))
        again, t_again = timed(lambda: run_rollouts(turn_by_turn, prompts, max_new_tokens=args.max_new_tokens))
        plain, t_bare = timed(lambda: backend.complete(prompts, args.max_new_tokens))  # one generate per batch
        runner_tokens = tokens(TOOL_OUTPUT_BLOCK.sub("", x.completion) for x in rollouts)  # the model's own text
        again_tokens = tokens(TOOL_OUTPUT_BLOCK.sub("", x.completion) for x in again)
        bare = tokens(plain) / t_bare
        ratios.append(runner_tokens / t_runner / bare)
        before.append(again_tokens / t_again / bare)
        same = sum(x.completion == y.completion for x, y in zip(rollouts, again))
        calls = sum(len(x.tool_results) for x in rollouts)
        print(f"round {r + 1}: runner {runner_tokens / t_runner:.1f} tokens/s ({runner_tokens} tokens, {calls} tool "
              f"calls, {sum(x.turns for x in rollouts)} turns), turn by turn {again_tokens / t_again:.1f}, "
              f"bare generate {bare:.1f} tokens/s: ratios {ratios[-1]:.2f} and {before[-1]:.2f}; "
              f"{same} of {len(prompts)} rollouts the same text both ways", flush=True)
    print(f"median ratio to bare generate over {args.rounds} rounds: runner {statistics.median(ratios):.2f}, "
          f"turn by turn {statistics.median(before):.2f}")


if __name__ == "__main__":
    main()
