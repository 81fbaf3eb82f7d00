"""Multi-turn agent rollouts: generation stops at </tool>, the calculator answers, generation resumes.

Rollouts run in groups of GROUP through all their turns; the unfinished rollouts of a group's turn are generated
as one batch, and a rollout leaves it when it writes anything other than a tool call, or when it reaches the turn
limit. The backend keeps each rollout's keys and values between turns, so a turn runs only its new tokens; the
group bounds how many rollouts' keys and values are held at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from econalign.agent.format import TOOL_CALL, TOOL_CLOSE, tool_output_block
from econalign.backends.base import Backend
from econalign.tools.calculator import CalcResult, evaluate


GROUP = 64  # rollouts whose keys and values are held at once: ~2 GB at 700 tokens each for the default model


@dataclass
class Rollout:
    prompt: str
    completion: str = ""
    turns: int = 0
    tool_results: list[CalcResult] = field(default_factory=list)
    turn_limit_hit: bool = False


def pending_tool_call(text: str) -> str | None:
    """The expression of a tool call that ends the text, if it does."""
    if not text.rstrip().endswith(TOOL_CLOSE):
        return None
    calls = TOOL_CALL.findall(text)
    return calls[-1].strip() if calls else None


def run_rollouts(
    backend: Backend,
    prompts: list[str],
    tools: bool = True,
    calculator: Callable[[str], CalcResult] = evaluate,
    max_turns: int = 6,
    max_new_tokens: int = 384,
    temperature: float = 0.0,
    seed: int = 0,
) -> list[Rollout]:
    """Roll out each prompt; with `tools`, every </tool> is answered by `calculator` (in-process by
    default; pass a CalculatorClient's `calculate` to use the HTTP service)."""
    rollouts = [Rollout(prompt=p) for p in prompts]
    for start in range(0, len(rollouts), GROUP):
        run_group(backend, rollouts[start : start + GROUP], tools, calculator, max_turns, max_new_tokens,
                  temperature, seed)
    return rollouts


def run_group(backend, rollouts, tools, calculator, max_turns, max_new_tokens, temperature, seed):
    active, kept = list(range(len(rollouts))), {}
    for turn in range(max_turns):
        if not active:
            break
        texts = [rollouts[i].prompt + rollouts[i].completion for i in active]
        stop = [TOOL_CLOSE] if tools else None
        outputs = backend.complete(texts, max_new_tokens, stop=stop, temperature=temperature, seed=seed + turn,
                                   reuse=kept)
        still = []
        for i, out in zip(active, outputs):
            r = rollouts[i]
            r.completion += out
            r.turns += 1
            expression = pending_tool_call(out) if tools else None
            if expression is not None:
                result = calculator(expression)
                r.tool_results.append(result)
                r.completion += tool_output_block(result.text)
                still.append(i)
        active = still
    for i in active:
        rollouts[i].turn_limit_hit = True
