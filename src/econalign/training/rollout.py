"""Multi-turn GRPO rollouts with the calculator, as TRL's `rollout_func`.

TRL's own tool loop expects JSON function calls parsed by the chat template; this project's agent
writes `<tool>expression</tool>` and reads `<tool_output>`. Here the policy being trained generates
until </tool> (or its end), the calculator's answer is appended as tokens, and generation resumes,
up to `max_turns` turns and `max_completion_length` tokens in all. Everything stays in token ids,
so the trainer scores exactly the tokens that were sampled; `env_mask` marks the calculator's
tokens, which carry no loss (as in SFT).
"""

from __future__ import annotations

from collections.abc import Callable

from econalign.agent.format import TOOL_CLOSE, tool_output_block
from econalign.agent.runner import pending_tool_call
from econalign.backends.hf import cut_after_stop, end_tokens
from econalign.tools.calculator import CalcResult, evaluate


def calculator_rollout_func(max_turns: int, calculator: Callable[[str], CalcResult] = evaluate):
    """TRL `rollout_func`: one multi-turn completion per prompt it is given (TRL repeats each prompt
    `num_generations` times before the call)."""

    def rollout(prompts: list, trainer) -> dict:
        import torch
        from trl.models import unwrap_model_for_generation

        tokenizer = trainer.processing_class
        prompt_ids = [prompt_tokens(tokenizer, p) for p in prompts]
        with (unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as model, torch.no_grad()):
            completions, env_mask = tool_rollouts(
                lambda ids, budget: generate_turn(model, tokenizer, ids, trainer.generation_config, budget),
                tokenizer, prompt_ids, trainer.max_completion_length, max_turns, calculator,
            )
        # logprobs only feed vLLM's importance-sampling correction, which this transformers path does not use
        return {"prompt_ids": prompt_ids, "completion_ids": completions, "env_mask": env_mask,
                "logprobs": [[0.0] * len(c) for c in completions]}

    return rollout


def prompt_tokens(tokenizer, prompt) -> list[int]:
    """A chat prompt through the chat template, a text prompt as it is."""
    if isinstance(prompt, str):
        return tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]


def tool_rollouts(generate, tokenizer, prompt_ids: list[list[int]], max_length: int, max_turns: int,
                  calculator: Callable[[str], CalcResult]) -> tuple[list[list[int]], list[list[int]]]:
    """Completion ids and their masks (1: sampled by the model, 0: written by the calculator).

    `generate(ids, budget)` continues each id list by at most `budget` tokens and returns the new
    ids, cut after a </tool> or an end-of-sequence token. Unfinished rollouts go as one batch per turn.
    """
    completions: list[list[int]] = [[] for _ in prompt_ids]
    masks: list[list[int]] = [[] for _ in prompt_ids]
    active = list(range(len(prompt_ids)))
    for _ in range(max_turns):
        active = [i for i in active if len(completions[i]) < max_length]
        if not active:
            break
        budget = max_length - min(len(completions[i]) for i in active)
        new = generate([prompt_ids[i] + completions[i] for i in active], budget)
        still = []
        for i, ids in zip(active, new):
            ids = ids[: max_length - len(completions[i])]
            completions[i] += ids
            masks[i] += [1] * len(ids)
            expression = pending_tool_call(cut_after_stop(tokenizer.decode(ids, skip_special_tokens=True), [TOOL_CLOSE]))
            if expression is not None:
                answer = tokenizer(tool_output_block(calculator(expression).text), add_special_tokens=False)["input_ids"]
                answer = answer[: max_length - len(completions[i])]
                completions[i] += answer
                masks[i] += [0] * len(answer)
                still.append(i)
        active = still
    return completions, masks


def generate_turn(model, tokenizer, inputs: list[list[int]], generation_config, budget: int) -> list[list[int]]:
    """Sample one turn for each left-padded input, stopping at </tool>."""
    import copy

    import torch

    width = max(map(len, inputs))
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(x)) + x for x in inputs], device=model.device)
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in inputs], device=model.device)
    config = copy.deepcopy(generation_config)
    config.max_new_tokens, config.stop_strings = budget, [TOOL_CLOSE]
    out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config, tokenizer=tokenizer)
    eos = set(end_tokens(config))
    return [turn_tokens(tokenizer, row.tolist(), eos) for row in out[:, width:]]


def turn_tokens(tokenizer, row: list[int], eos: set[int]) -> list[int]:
    """A generated row up to the token that completes </tool>, else up to and including the first
    end-of-sequence token (generation pads finished rows, possibly with that very token)."""
    end = next((k + 1 for k, t in enumerate(row) if t in eos), len(row))
    text = tokenizer.decode(row[:end], skip_special_tokens=True)
    if TOOL_CLOSE in text:
        target = cut_after_stop(text, [TOOL_CLOSE])
        return next(row[:k] for k in range(1, end + 1) if tokenizer.decode(row[:k], skip_special_tokens=True)
                    .startswith(target))
    return row[:end]
