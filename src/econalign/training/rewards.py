"""Verifiable rewards for GRPO and expert iteration, as TRL reward functions.

Each function takes the completions and the dataset's `task` (a solved task as JSON) and
`preference` columns, and returns one float per completion:

- `format_reward`: 1 for a well-formed trace (agent/format.py: one <think> block, every tool call
  answered, exactly one `Final answer:` line after </think>), else 0.
- `outcome_reward`: 1 when the final answer is the target preference's optimum (bet sizing: within
  its tolerance), else 0. Only the final line counts: a decision inside <think> is not one.
- `regret_reward`: graded in [0, 1], one minus the scaled utility regret of the decision (bet sizing:
  from certainty equivalents; see tasks/bet.py), 0 without a decision.

A decision earns outcome and regret rewards only inside a well-formed trace: otherwise a policy
could skip the tool protocol (or make up tool results) and still be paid.

For math records (`econalign math data`: a `prompt` and a `gold` answer), `math_format` and
`math_answer` are the format and answer rewards of math/grader.py, graded as the record's prompt
asks: r1_zero for a text prompt, question_only (the last box or number, no format rule) for chat
messages.

`REWARDS` maps the names used in configs to these functions; weights are set in the config.
"""

from __future__ import annotations

import json
from functools import cache

from econalign.agent.evaluate import grade
from econalign.agent.format import parse_trace
from econalign.math.grader import grade as grade_math
from econalign.math.prompts import prompt_name
from econalign.preferences import parse_preference
from econalign.tasks import Task


def text_of(completion) -> str:
    """TRL passes plain strings, or message lists for conversational prompts."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if m.get("role") == "assistant")


@cache
def preference(spec: str):
    return parse_preference(spec)


def graded(completions, task, preference_spec) -> list[dict]:
    return [grade(Task(**json.loads(t)), preference(p), text_of(c)) for c, t, p in zip(completions, task, preference_spec)]


def format_reward(completions, **kwargs) -> list[float]:
    return [float(parse_trace(text_of(c)).well_formed) for c in completions]


def outcome_reward(completions, task, preference, **kwargs) -> list[float]:
    return [float(g["correct"] and g["well_formed"]) for g in graded(completions, task, preference)]


def regret_reward(completions, task, preference, **kwargs) -> list[float]:
    return [g["score"] if g["well_formed"] else 0.0 for g in graded(completions, task, preference)]


def graded_math(prompts, completions, gold) -> list:
    return [grade_math(text_of(c), g, prompt_name(p)) for p, c, g in zip(prompts, completions, gold)]


def math_format_reward(prompts, completions, gold, **kwargs) -> list[float]:
    return [g.format_reward for g in graded_math(prompts, completions, gold)]


def math_answer_reward(prompts, completions, gold, **kwargs) -> list[float]:
    return [g.answer_reward for g in graded_math(prompts, completions, gold)]


REWARDS = {
    "format": format_reward, "outcome": outcome_reward, "regret": regret_reward,
    "math_format": math_format_reward, "math_answer": math_answer_reward,
}
