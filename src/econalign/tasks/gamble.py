"""Sure thing vs gamble: accept a sure amount, or reject it and take a two-outcome gamble.

"accept" always means taking the sure amount, so P(accept) rises with the sure amount and
crosses 1/2 at the certainty equivalent of the gamble (gains, losses and mixed alike).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from econalign.preferences.base import Lottery
from econalign.tasks.base import Task, money, parse_choice, percent

FAMILY = "gamble"
OPTIONS = ["accept", "reject"]
INSTRUCTION = "Answer with one word: accept or reject."
PATTERNS = {"accept": r"\baccept(?:s|ed|ing)?\b", "reject": r"\breject(?:s|ed|ing)?\b"}


def kind_of(gamble: Lottery) -> str:
    xs = gamble.outcomes
    if min(xs) >= 0:
        return "gains"
    return "losses" if max(xs) <= 0 else "mixed"


def describe_sure(x: float) -> str:
    if x > 0:
        return f"receive {money(x)} for certain"
    if x < 0:
        return f"pay {money(x)} for certain"
    return "keep what you have ($0) for certain"


def describe_outcome(x: float, p: float) -> str:
    if x > 0:
        return f"{percent(p)} chance to win {money(x)}"
    if x < 0:
        return f"{percent(p)} chance to lose {money(x)}"
    return f"{percent(p)} chance of $0"


def render_prompt(gamble: Lottery, sure: float, wealth: float, sure_first: bool) -> str:
    sure_line = f"- Sure option: {describe_sure(sure)}."
    parts = [describe_outcome(x, p) for x, p in zip(gamble.outcomes, gamble.probs)]
    gamble_line = "- Gamble: " + " and ".join(parts) + "."
    lines = [sure_line, gamble_line] if sure_first else [gamble_line, sure_line]
    head = f"You have {money(wealth)}. " if wealth else ""
    return (
        f"{head}Choose between two options.\n" + "\n".join(lines) + "\n"
        "Do you accept the sure option instead of the gamble?"
    )


def make(gamble: Lottery, sure: float, wealth: float = 0.0, sure_first: bool = True, system: str | None = None) -> Task:
    outcomes = "_".join(f"{x:g}@{p:g}" for x, p in zip(gamble.outcomes, gamble.probs))
    return Task(
        id=f"{FAMILY}-{kind_of(gamble)}-{outcomes}-s{sure:g}-w{wealth:g}-{'sf' if sure_first else 'gf'}",
        family=FAMILY,
        params={
            "kind": kind_of(gamble),
            "wealth": float(wealth),
            "sure": float(sure),
            "sure_first": sure_first,
            "options": {"accept": Lottery.sure(sure).to_list(), "reject": gamble.to_list()},
        },
        prompt=render_prompt(gamble, sure, wealth, sure_first),
        options=list(OPTIONS),
        instruction=INSTRUCTION,
        system=system,
    )


def sure_grid(gamble: Lottery, n: int) -> list[float]:
    """n sure amounts at the midpoints of n equal steps between the gamble's worst and best outcome."""
    lo, hi = min(gamble.outcomes), max(gamble.outcomes)
    return [float(np.round(lo + (hi - lo) * (k + 0.5) / n, 2)) for k in range(n)]


def generate(n: int, rng: np.random.Generator, kinds=("gains", "losses", "mixed"), stake: float = 1000.0) -> list[Task]:
    """n random items: outcomes on a $10 grid, probabilities on a 5% grid, wealth covering any loss.

    Half the gains (losses) gambles have a second gain (loss) instead of $0, and half the sure amounts
    are to the cent: the profile battery asks both ("$1,000 or $300" against $166.67), so the training
    data must too.
    """
    tasks = []
    for _ in range(n):
        kind = kinds[rng.integers(len(kinds))]
        p = float(rng.integers(1, 20)) / 20
        high = float(rng.integers(1, stake / 10 + 1) * 10)
        if kind == "mixed":
            gamble = Lottery.binary(p, high, -float(rng.integers(1, stake / 10 + 1) * 10))
        else:
            other = float(rng.integers(0, high / 10) * 10) if rng.integers(2) else 0.0  # below high
            gamble = Lottery.binary(p, high, other) if kind == "gains" else Lottery.binary(p, -high, -other + 0.0)
        lo, hi = min(gamble.outcomes), max(gamble.outcomes)
        if kind == "mixed":
            sure = 0.0
        elif rng.integers(2):
            sure = float(np.round(rng.uniform(lo, hi), 2))
        else:
            sure = float(np.round(rng.uniform(lo, hi) / 10) * 10)
        wealth = stake + max(0.0, -lo)
        tasks.append(make(gamble, sure, wealth, sure_first=bool(rng.integers(2))))
    return tasks


def acceptable_gain(pref, loss: float, wealth: float, p: float = 0.5) -> float | None:
    """The gain G that makes `pref` indifferent between p x +G / (1-p) x -loss and nothing (None beyond 100 x loss)."""
    def gap(gain):
        return pref.value(Lottery.binary(p, gain, -loss), wealth) - pref.value(Lottery.sure(0.0), wealth)

    hi = 100 * loss
    if gap(hi) < 0:
        return None
    return brentq(gap, 0.0, hi, xtol=1e-6) if gap(0.0) < 0 else 0.0


def parse(text: str) -> str | None:
    return parse_choice(text, PATTERNS)
