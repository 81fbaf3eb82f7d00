"""Multi-turn agent rollouts: generation stops at </tool>, the calculator answers, generation resumes.

The backend's `converse` runs the turns (a language model on this machine: continuous batching, so a
rollout's turn resumes as soon as the calculator answers, without waiting for the others); a rollout ends
when it writes anything other than a tool call, or when it reaches the turn limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from econalign.agent.format import TOOL_CALL, TOOL_CLOSE, tool_output_block
from econalign.backends.base import Backend
from econalign.tools.calculator import CalcResult, evaluate


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
    progress: Callable[[int], None] | None = None,
) -> list[Rollout]:
    """Roll out each prompt; with `tools`, every </tool> is answered by `calculator` (in-process by
    default; pass a CalculatorClient's `calculate` to use the HTTP service). `progress(1)` as each rollout ends."""
    rollouts = [Rollout(prompt=p) for p in prompts]

    def respond(i: int, out: str) -> str | None:
        r = rollouts[i]
        r.completion += out
        r.turns += 1
        expression = pending_tool_call(out) if tools else None
        if expression is not None:
            result = calculator(expression)
            r.tool_results.append(result)
            answer = tool_output_block(result.text)
            r.completion += answer
            r.turn_limit_hit = r.turns == max_turns
            if not r.turn_limit_hit:
                return answer
        if progress:
            progress(1)
        return None

    stop = [TOOL_CLOSE] if tools else None
    backend.converse(prompts, respond, max_new_tokens, stop=stop, temperature=temperature, seed=seed)
    return rollouts
