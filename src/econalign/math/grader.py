"""Rewards for math answers: the r1_zero format rule, answer extraction, equivalence by math-verify.

Format (r1_zero): the reasoning is closed by `</think>`, followed only by whitespace and one
`<answer> ... </answer>`; the response must contain each of these tags exactly once. The answer is
the `\\boxed{}` inside the answer tags when there is one, else the whole tag content.

question_only (a free answer, as CS336 grades it: no format rule): the answer is the response's
`\\boxed{}`, else its last number. It earns nothing when the response has several boxes, or when
its closing statement (from the sentence holding the answer to the end) hedges or takes a value
back: in `the answer is 12, not 13` the last number is not the answer. The format reward only
says whether an answer was found.

The answer is graded whole, never by a number picked out of it (`2x+1` is not 2, `- 5` is not 5):
its dress is taken off (currency, `\\text{}`, thousands separators, a trailing units phrase, a
leading `+`; `1e3` becomes `1 \\times 10^{3}`), then math-verify parses all of it as one LaTeX
expression and compares it with the gold parsed the same way. An answer that names more than one
candidate value earns nothing: hedge words (`18 or 19`, `about 19`, outside the box too), two
boxes, numbers side by side (`18 19`), a list against a single gold (`18, 19`, `x = 3, y = 4`), an
equation other than `x = value` (`18 = 19`). Gold answers of GSM8K follow `####` in the solution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE = "</think>", "<answer>", "</answer>"
R1_ZERO_TAIL = re.compile(r"</think>\s*<answer>(?P<answer>.*?)</answer>", re.DOTALL)
NUMBER = re.compile(r"-?\d+(?:,\d+)*(?:\.\d+)?")  # `1,000`; not the comma of `18, and`
MAX_ANSWER_CHARS = 1000

# The dress of a value: text wrappers, currency and math delimiters, units after it, separators.
TEXT = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mbox)\s*\{([^{}]*)\}")
DELIMITERS = re.compile(r"\\\$|\$|\\[()\[\]]|[€£°]")
UNITS = re.compile(  # `4 dollars`, `5 km/h`, `3 cm^2`; not `3 pi`
    r"(?<=[\d}%)])\s+(?!pi\b)[A-Za-z]{2,}(?:(?:\s+|\s*/\s*)[A-Za-z]+)*(?:\s*\^\s*\{?\d\}?)?$")
THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:(?:,|\{,\}|\\,| )\d{3})+(?![\d,])")
SCIENTIFIC = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)\b")
# Words and marks that commit to no single value; checked on the whole answer, units phrase included.
UNSURE = (r"\b(?:or|between|about|approx|approximately|roughly|around|nearly|almost|maybe|perhaps|probably|"
          r"possibly)\b|\\approx|\\sim")
HEDGE = re.compile(UNSURE + r"|\b(?:least|most|more|less)\b|;", re.IGNORECASE)
# The closing statement of a free answer may say `5 more apples` (GSM8K asks "how many more"), not `at least 5`
# nor take a value back (`12, not 13`: its last number is not its answer).
RETRACTED = re.compile(UNSURE + r"|\bat (?:least|most)\b|\b(?:not|never)\b|n't\b", re.IGNORECASE)
SENTENCE_END = re.compile(r"[.!?](?=\s)|\n")
OPERAND_BEFORE = re.compile(r"(?:[\d)}]\s*[-+*/^×÷,]?|\w\s*[-+*/^×÷])\s*$")
SPACED_NUMBERS = re.compile(r"\d\s+\d")


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


def closing_brace(text: str, start: int) -> int | None:
    """The index of the brace that closes the one at `start`, else None."""
    depth = 0
    for j in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return j
    return None


def boxed(text: str) -> str | None:
    """The content of the last \\boxed{...}, braces balanced."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    opening = start + len("\\boxed")
    end = closing_brace(text, opening)
    return None if end is None else text[opening + 1 : end]


def r1_zero_answer(response: str) -> str | None:
    """The tag content of a well-formed r1_zero response, else None."""
    if any(response.count(tag) != 1 for tag in (THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)):
        return None
    match = R1_ZERO_TAIL.search(response)
    return match.group("answer").strip() if match else None


def question_only_answer(response: str) -> str | None:
    """The value a free answer ends on: its one \\boxed{}, else the expression holding its last number; None
    when it has several boxes (several candidate answers) or its closing statement, from the sentence holding
    that value to the end, hedges or takes a value back."""
    if response.count("\\boxed") > 1:
        return None
    found, start = boxed(response), response.rfind("\\boxed")
    if found is None:
        if (last := last_expression(response)) is None:
            return None
        found, start = last
    sentence = max((m.end() for m in SENTENCE_END.finditer(response, 0, start)), default=0)
    return None if RETRACTED.search(response[sentence:]) else found


def last_expression(response: str) -> tuple[str, int] | None:
    """The text between the spaces around the last number (`2x+13`, `9*2=18`, `**$18**.`), right of its last
    `=` and without the marks around it, and where it starts; None after a number or an operand (`12, 13`,
    `2x + 13`: not one value)."""
    numbers = list(NUMBER.finditer(response))
    if not numbers:
        return None
    start = max(response.rfind(space, 0, numbers[-1].start()) for space in " \t\n\r") + 1
    end = numbers[-1].end() + re.match(r"\S*", response[numbers[-1].end() :]).end()
    if OPERAND_BEFORE.search(response[:start]):
        return None
    value = response[start:end].rsplit("=", 1)[-1].strip(".,;:!?()*_\"'`")
    return (value, start) if value else None


def undressed(text: str) -> str:
    """The value without its dress: `\\$1,000 dollars.` -> `1000`, `+4.5e3` -> `4.5 \\times 10^{3}`."""
    text = text.replace("\u2212", "-")  # the Unicode minus sign
    while (unwrapped := TEXT.sub(r" \1 ", text)) != text:  # innermost first: `\text{\textbf{4}}`
        text = unwrapped
    text = DELIMITERS.sub("", text).strip().rstrip(".").strip()
    text = UNITS.sub("", text)
    text = THOUSANDS.sub(lambda m: re.sub(r"\D", "", m.group()), text)
    text = SCIENTIFIC.sub(r"\1 \\times 10^{\2}", text)
    return text.removeprefix("+").strip()


def one_value(answer: str) -> str | None:
    """The answer undressed, or None when it is empty, runaway or names several values by its text."""
    if len(answer) > MAX_ANSWER_CHARS or answer.count("\\boxed") > 1 or HEDGE.search(answer):  # outside the box too
        return None
    inner = boxed(answer)
    answer = answer if inner is None else inner
    if not answer:
        return None
    if closing_brace("{" + answer + "}", 0) != len(answer) + 1:  # `4}{5` would let math-verify read 4
        return None
    answer = undressed(answer)
    return None if not answer or SPACED_NUMBERS.search(answer) else answer


def parsed(text: str):
    """All of `text` as one expression, else None; boxed, so math-verify reads the whole of it."""
    from math_verify import LatexExtractionConfig, LatexNormalizationConfig, parse

    # math-verify's own units list would read `2ab` or `5t` as 2 and 5; units are taken off above.
    config = LatexExtractionConfig(boxed_match_priority=0, normalization_config=LatexNormalizationConfig(
        basic_latex=True, units=False, malformed_operators=True, nits=True, boxed="all"))
    found = parse(f"\\boxed{{{text}}}", [config], fallback_mode="no_fallback", extraction_mode="first_match")
    return found[0] if found else None


def is_relation(expr) -> bool:
    from sympy import And
    from sympy.core.relational import Relational

    return isinstance(expr, (Relational, And))


def equivalent(answer: str, gold: str) -> bool:
    from math_verify import verify
    from sympy import Eq

    text = one_value(answer)
    given = None if text is None else parsed(text)
    expected = parsed(undressed(gold))
    if given is None or expected is None:
        return False
    # math-verify would grade `18 = 19` by its right side; only `x = 19` states one value
    if is_relation(given) and not is_relation(expected) and not (isinstance(given, Eq) and given.lhs.is_Symbol):
        return False
    return bool(verify(expected, given))


def grade(response: str, gold: str, prompt: str = "r1_zero") -> Grade:
    answer = r1_zero_answer(response) if prompt == "r1_zero" else question_only_answer(response)
    if answer is None:
        return Grade(0.0, 0.0, None)
    return Grade(1.0, float(equivalent(answer, gold)), answer)
