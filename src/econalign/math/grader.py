"""Rewards for math answers: the r1_zero format rule, answer extraction, equivalence by math-verify.

Format (r1_zero): the reasoning is closed by `</think>`, followed only by whitespace and one
`<answer> ... </answer>`; the response must contain each of these tags exactly once. The answer is
the `\\boxed{}` inside the answer tags when there is one, else the whole tag content. An answer that
hedges ("18 or 19", two boxes) earns nothing: math-verify would grade its first candidate.
Gold answers of GSM8K follow `####` in the solution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE = "</think>", "<answer>", "</answer>"
R1_ZERO_TAIL = re.compile(r"</think>\s*<answer>(?P<answer>.*?)</answer>", re.DOTALL)
HEDGE = re.compile(r"\bor\b|;|\\boxed.*\\boxed", re.IGNORECASE | re.DOTALL)
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
MAX_ANSWER_CHARS = 1000


@dataclass(frozen=True)
class Grade:
    format_reward: float
    answer_reward: float
    answer: str | None  # what was graded

    @property
    def reward(self) -> float:
        return self.answer_reward  # an answer only counts in a well-formed response

    def to_dict(self) -> dict:
        return {"format_reward": self.format_reward, "answer_reward": self.answer_reward, "reward": self.reward,
                "answer": self.answer}


def gsm8k_gold(solution: str) -> str:
    """The final answer after `####`, thousands separators removed."""
    if "####" not in solution:
        raise ValueError("a GSM8K solution ends with '#### <answer>'")
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def boxed(text: str) -> str | None:
    """The content of the last \\boxed{...}, braces balanced."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    return None


def r1_zero_answer(response: str) -> str | None:
    """The tag content of a well-formed r1_zero response, else None."""
    if any(response.count(tag) != 1 for tag in (THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)):
        return None
    match = R1_ZERO_TAIL.search(response)
    return match.group("answer").strip() if match else None


def question_only_answer(response: str) -> str | None:
    """The last \\boxed{} of a free answer, else its last number."""
    found = boxed(response)
    if found is not None:
        return found
    numbers = NUMBER.findall(response)
    return numbers[-1] if numbers else None


def equivalent(answer: str, gold: str) -> bool:
    from math_verify import parse, verify

    answer = boxed(answer) or answer
    if not answer or len(answer) > MAX_ANSWER_CHARS or HEDGE.search(answer):
        return False
    try:
        return bool(verify(parse(latex(gold)), parse(latex(answer))))
    except Exception:  # math-verify raises on some malformed latex; a wrong answer, not a crash
        return False


def latex(text: str) -> str:
    """math-verify reads LaTeX only between $...$ (or in a box): bare `2\\sqrt{2}` would be read as 2."""
    return f"${text}$" if "\\" in text and "$" not in text else text


def grade(response: str, gold: str, prompt: str = "r1_zero") -> Grade:
    answer = r1_zero_answer(response) if prompt == "r1_zero" else question_only_answer(response)
    if answer is None:
        return Grade(0.0, 0.0, None)
    return Grade(1.0, float(equivalent(answer, gold)), answer)
