"""Writes one reasoning trace, showing each computation as a calculator call or inline.

Agentic traces show `<tool>expression</tool>` and, exactly as the rollout runner would append it,
`<tool_output>evaluate(expression).text</tool_output>`. Blind traces write `expression = value`.
Either way the shown value is what the calculator makes of the shown expression, so a trace
never states a number its own arithmetic does not give.
"""

from __future__ import annotations

import math

from econalign import EconalignError
from econalign.agent.format import (
    FINAL,
    MODES,
    THINK_CLOSE,
    THINK_OPEN,
    TOOL_CLOSE,
    TOOL_OPEN,
    tool_output_block,
)
from econalign.preferences.base import spec_number
from econalign.tools.calculator import evaluate

CALC_DIGITS = 10  # significant digits of the calculator's text
BLIND_DIGITS = 6


def num(x: float) -> str:
    """A number as an expression literal: `0.3`, not the `0.30000000000000004` that 1 - 0.7 gives."""
    return spec_number(round(float(x), 12) + 0.0)  # + 0.0: no "-0"


def rounded(v: float, digits: int) -> str:
    """v to `digits` significant digits, in plain notation where that stays short: `-0.000746269`, `1020000`."""
    if v == 0:
        return "0"
    exp = math.floor(math.log10(abs(v)))
    if not -5 <= exp < 15:
        return f"{v:.{digits}g}"
    places = digits - 1 - exp
    text = f"{round(v, places):.{max(places, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def distinct_digits(values) -> int:
    """The fewest significant digits (from BLIND_DIGITS up to the calculator's) that keep different values apart."""
    values = set(values)
    return next((d for d in range(BLIND_DIGITS, CALC_DIGITS) if len({rounded(v, d) for v in values}) == len(values)),
                CALC_DIGITS)


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Writer:
    def __init__(self, mode: str, digits: int = BLIND_DIGITS):
        if mode not in MODES:
            raise EconalignError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode, self.digits = mode, digits
        self.lines: list[str] = []
        self.shown: dict[str, str] = {}  # chained expression -> its value as shown

    def say(self, text: str) -> None:
        self.lines.append(text + "\n")

    def calc(self, label: str, expression: str, exact: float, tol: float = 0.0, chained: bool = False) -> str:
        """Write `label = <computation>` and return the value as shown.

        `exact` is the solver's value; the calculator must agree within `tol` plus a relative 1e-9, or the
        expression is a bug. A `chained` value feeds later expressions: it is computed once per trace, and
        blind traces keep all its digits.
        """
        if chained and expression in self.shown:
            return self.shown[expression]
        result = evaluate(expression)
        if not result.ok:
            raise EconalignError(f"the calculator refuses {expression!r} ({result.error}): "
                                 "the preference is too extreme for calculator traces")
        if not abs(result.value - exact) <= tol + 1e-9 * abs(exact):
            raise AssertionError(f"{expression} gives {result.value}, the solver {exact}")
        if is_number(expression):  # nothing to compute
            shown = expression
            self.say(f"{label} = {shown}")
        elif self.mode == "agentic":
            shown = result.text
            self.lines.append(f"{label} = {TOOL_OPEN}{expression}{TOOL_CLOSE}" + tool_output_block(shown))  # as the runner writes it
        else:
            shown = rounded(result.value, CALC_DIGITS if chained else self.digits)
            self.say(f"{label} = {expression} = {shown}")
        if chained:
            self.shown[expression] = shown
        return shown

    def text(self, answer: str) -> str:
        return f"{THINK_OPEN}\n{''.join(self.lines)}{THINK_CLOSE}\n{FINAL} {answer}"
