"""The two prompts of the math pipeline.

r1_zero (DeepSeek-R1-Zero, as in Stanford CS336 assignment 5) is raw text that the model continues
right after `Assistant: <think>`; its answers are graded with the r1_zero format rule.
question_only is the bare question, sent through the model's chat template.
"""

from __future__ import annotations

from econalign import EconalignError

R1_ZERO = (
    "A conversation between User and Assistant. The User asks a question, and the Assistant solves it. "
    "The Assistant first thinks about the reasoning process in the mind and then provides the User with the "
    "answer. The reasoning process is enclosed within <think> </think> and answer is enclosed within "
    "<answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> "
    "<answer> answer here </answer>.\nUser: {question}\nAssistant: <think>"
)
PROMPTS = ("r1_zero", "question_only")
STOP = {"r1_zero": ["</answer>"], "question_only": None}


def check_prompt(name: str) -> None:
    if name not in PROMPTS:
        raise EconalignError(f"unknown prompt {name!r}; use one of {', '.join(PROMPTS)}")


def r1_zero(question: str) -> str:
    return R1_ZERO.format(question=question)


def r1_zero_completion(reasoning: str, answer: str) -> str:
    """What a model should write after the r1_zero prompt: the target of SFT on worked solutions."""
    return f" {reasoning.strip()} </think> <answer> {answer.strip()} </answer>"
