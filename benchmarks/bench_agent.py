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
from econalign.agent.format import agent_task, tool_output_spans
from econalign.agent.runner import run_rollouts
from econalign.backends.hf import HFBackend


def written(text: str) -> str:
    """The model's own text: a trace without the calculator's output blocks."""
    kept, start = [], 0
    for lo, hi in tool_output_spans(text):
        kept.append(text[start:lo])
        start = hi
    return "".join(kept) + text[start:]


def bare_generate(backend, prompts, max_new_tokens) -> list[str]:
    out = [""] * len(prompts)
    with torch.inference_mode():
        for idx, batch in backend.batches(prompts):
            enc = backend.encode(batch)
            ids = backend.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                         pad_token_id=backend.tokenizer.pad_token_id)
            for i, text in zip(idx, backend.tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1]:],
                                                                   skip_special_tokens=True)):
                out[i] = text
    return out


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
        runner_tokens = tokens(written(x.completion) for x in rollouts)
        start = time.perf_counter()
        plain = bare_generate(backend, prompts, args.max_new_tokens)
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
