"""The two prompts of the math pipeline.

r1_zero (DeepSeek-R1-Zero, as in Stanford CS336 assignment 5) is raw text that the model continues
right after `Assistant: <think>`; its answers are graded with the r1_zero format rule.
question_only is the bare question, sent through the model's chat template; its answers are graded
as free text (the last \\boxed{} or number). Math records say which by their prompt: r1_zero text,
or question_only chat messages.
"""

from __future__ import annotations

from econalign import EconalignError
from econalign.math.grader import boxed
from econalign.tasks.base import Task

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


def math_task(question: str, id: str = "") -> Task:
    """A question as a task, for a backend to render through its chat template (question_only)."""
    return Task(id=id, family="math", params={}, prompt=question, options=[])


def question_only(question: str) -> list[dict]:
    """The messages of a question_only prompt: the question as the only (user) turn."""
    return math_task(question).messages()


def question_only_completion(reasoning: str, answer: str) -> str:
    """The SFT target after a question_only prompt: the worked solution ending on its answer in a \\boxed{}
    (MATH solutions box it already)."""
    if boxed(reasoning) is not None:
        return reasoning.strip()
    return f"{reasoning.strip()}\nThe answer is \\boxed{{{answer.strip()}}}."


def prompt_name(prompt: str | list) -> str:
    """The prompt of a math record: r1_zero text, or question_only chat messages."""
    return "r1_zero" if isinstance(prompt, str) else "question_only"
