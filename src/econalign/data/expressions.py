"""A risk preference in words, and a lottery's value as a calculator expression.

Expressions follow the solver's arithmetic (`RiskPreference.values`) term by term, so the calculator
reproduces the solver's numbers: CRRA expected utility of final wealth, and prospect-theory value
with rank-dependent decision weights w(c) - w(c') computed as separate calculator steps.
"""

from __future__ import annotations

import numpy as np

from econalign import EconalignError
from econalign.data.writer import Writer, num
from econalign.preferences.base import Lottery, RiskPreference
from econalign.preferences.crra import CRRA, ExpectedValue
from econalign.preferences.prospect import ProspectTheory, tk_weight
from econalign.tasks.base import money, percent

SNAP = 1e-12  # cumulative probabilities this close to 0 or 1 are 0 or 1 (p + (1 - p) is not always 1.0 in floats)


def supported(pref) -> None:
    if not isinstance(pref, (CRRA, ProspectTheory)):
        raise EconalignError(f"synthetic traces support ev, crra and pt preferences, not {pref.spec()}")


def signed(x: float) -> str:
    return "$0" if x == 0 else ("+" if x > 0 else "-") + money(x)


def describe_lottery(lot: Lottery) -> str:
    if len(lot.outcomes) == 1 or 1.0 in lot.probs:
        return f"{signed(lot.outcomes[lot.probs.index(max(lot.probs))])} for sure"
    return ", ".join(f"{percent(p)} {signed(x)}" for x, p in zip(lot.outcomes, lot.probs) if p > 0)


def utility(pref: CRRA, w: str) -> str:
    """u(w) as an expression in the text `w`."""
    if isinstance(pref, ExpectedValue) or pref.r == 0:
        return w
    if pref.r == 1:
        return f"ln({w})"
    power = num(1.0 - pref.r)
    power = f"({power})" if pref.r > 1 else power
    return f"{w}**{power}/{power}"


def describe(pref: RiskPreference, wealth: float) -> str:
    """The preference in words and numbers, and how wealth enters."""
    supported(pref)
    if isinstance(pref, CRRA):
        head = (
            "I maximise expected value: u(w) = w"
            if isinstance(pref, ExpectedValue)
            else f"My utility is CRRA with r = {num(pref.r)}: u(w) = {utility(pref, 'w')}"
        )
        base = f"I have {money(wealth)}, so final wealth is {money(wealth)} plus the outcome" if wealth else (
            "Final wealth is the outcome itself"
        )
        return f"{head} on final wealth w. {base}."
    a, b, lam = num(pref.alpha), num(pref.beta), num(pref.lam)
    text = f"I value gains and losses with prospect theory: v(x) = x**{a} for gains, v(x) = -{lam}*(-x)**{b} for losses"
    text += f", measured from a reference point of {signed(pref.reference)}." if pref.reference else "."
    if pref.gamma == pref.delta == 1.0:
        return text + " Probabilities are not weighted."
    return text + (
        f" Probabilities are weighted with w(p) = p**g/(p**g+(1-p)**g)**(1/g), g = {num(pref.gamma)} for gains (w+) "
        f"and {num(pref.delta)} for losses (w-): a gain's decision weight is w+(chance of at least that gain) minus "
        "w+(chance of a better one); a loss's likewise from the worst outcome up, with w-."
    )


def value_name(pref: RiskPreference) -> str:
    return "EU" if isinstance(pref, CRRA) else "V"


def value_expression(pref: RiskPreference, lot: Lottery, wealth: float, writer: Writer) -> tuple[str, float]:
    """The lottery's value as an expression, and the absolute error its chained steps allow.

    Prospect-theory decision weights are written as calculator steps first (each once per trace).
    """
    supported(pref)
    if isinstance(pref, CRRA):
        terms = [(p, utility(pref, num(wealth + x))) for x, p in zip(lot.outcomes, lot.probs) if p > 0]
        return " + ".join(u if p == 1 else f"{num(p)}*{u}" for p, u in terms), 0.0
    x = np.asarray(lot.outcomes, dtype=float) - pref.reference
    p = np.asarray(lot.probs, dtype=float)
    exact = pref.decision_weights(x[None], p[None])[0]
    terms, size = [], 0.0
    for j in np.flatnonzero((x != 0) & (p > 0)):
        gain = x[j] > 0
        v = f"{num(x[j])}**{num(pref.alpha)}" if gain else f"(-{num(pref.lam)}*{num(-x[j])}**{num(pref.beta)})"
        weight = decision_weight(pref, x, p, j, writer)
        terms.append(v if weight == "1" else f"{weight}*{v}")
        size += abs(exact[j] * pref.v(x[j]))
    # Chained weights carry the calculator's 10 significant digits.
    return " + ".join(terms) or "0", 1e-8 * size


def decision_weight(pref: ProspectTheory, x: np.ndarray, p: np.ndarray, j: int, writer: Writer) -> str:
    """Outcome j's rank-dependent weight w(c) - w(c'), c' the chance of a better outcome (a worse one for
    losses, with equal outcomes ranked by position like the solver) and c = c' + p_j."""
    gain = x[j] > 0
    g = pref.gamma if gain else pref.delta
    if g == 1.0:
        return num(p[j])
    ahead = np.arange(len(x)) < j
    better = (x > x[j]) | ((x == x[j]) & ahead) if gain else (x < x[j]) | ((x == x[j]) & ahead)
    c_low = float(p[better].sum())
    c_high = c_low + float(p[j])
    high = "1" if c_high > 1 - SNAP else weight_step(c_high, g, "+" if gain else "-", writer)
    if c_low < SNAP:
        return high
    return f"({high}-{weight_step(c_low, g, '+' if gain else '-', writer)})"


def weight_step(c: float, g: float, sign: str, writer: Writer) -> str:
    c_, g_, q_ = num(c), num(g), num(1.0 - c)
    expression = f"{c_}**{g_}/({c_}**{g_}+{q_}**{g_})**(1/{g_})"
    return writer.calc(f"w{sign}({c_})", expression, float(tk_weight(c, g)), chained=True)
