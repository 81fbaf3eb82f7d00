"""Two lotteries, option A or option B: the Holt–Laury wording for any pair of lotteries.

The consistency battery asks the three pairs of a lottery triple (`triple`) in both listing orders. A
triple is a risk ladder: the chance of the high prize rises as the prize falls, with a low prize above
$0 (log utility needs positive final wealth; no wealth is stated) and expected values within 5% of
each other, so no lottery dominates another and the choices are decided by risk attitude.
"""

from __future__ import annotations

import numpy as np

from econalign.preferences.base import Lottery
from econalign.tasks.base import Task, money, parse_letter, percent

FAMILY = "pair"
OPTIONS = ["A", "B"]
INSTRUCTION = "Answer with one letter: A or B."
EV_SPREAD = 0.05  # each lottery's expected value within this share of the triple's level


def describe(lot: Lottery, cents: bool = False) -> str:
    return ", ".join(f"{percent(p)} chance of {money(x, cents)}" for x, p in zip(lot.outcomes, lot.probs) if p > 0)


def render_prompt(a: Lottery, b: Lottery, cents: bool = False) -> str:
    return (
        "Choose between two lotteries.\n"
        f"Option A: {describe(a, cents)}.\n"
        f"Option B: {describe(b, cents)}.\n"
        "Which do you choose?"
    )


def make(a: Lottery, b: Lottery, system: str | None = None) -> Task:
    """Option A is `a`, listed first."""
    name = "-vs-".join("_".join(f"{x:g}@{p:g}" for x, p in zip(lot.outcomes, lot.probs)) for lot in (a, b))
    return Task(
        id=f"{FAMILY}-{name}",
        family=FAMILY,
        params={"wealth": 0.0, "options": {"A": a.to_list(), "B": b.to_list()}},
        prompt=render_prompt(a, b),
        options=list(OPTIONS),
        instruction=INSTRUCTION,
        system=system,
    )


def triple(rng: np.random.Generator) -> tuple[Lottery, Lottery, Lottery]:
    """Three lotteries (high prize with probability p, else the low prize), riskiest first: probabilities on a
    5% grid from 10% to 90%, prizes on a $10 grid, a low prize of $10-$100 shared by the three, expected values
    within 5% of a level of $300-$800 and all different (an expected-value maximiser is never indifferent)."""
    while True:
        probs = np.sort(rng.choice(np.arange(2, 19) / 20, 3, replace=False))
        low = float(rng.integers(1, 11) * 10)
        level = float(rng.integers(30, 81) * 10)
        evs = level * (1 + rng.uniform(-EV_SPREAD, EV_SPREAD, 3))
        highs = np.round((low + (evs - low) / probs) / 10) * 10
        lots = tuple(Lottery.binary(float(p), float(h), low) for p, h in zip(probs, highs))
        means = [lot.expected_value for lot in lots]
        spread = max(means) / min(means) - 1
        if np.all(np.diff(highs) < 0) and len(set(means)) == 3 and spread <= 2 * EV_SPREAD:
            return lots


def generate(n: int, rng: np.random.Generator) -> list[Task]:
    """n pairs, each two lotteries of a fresh triple in a random order."""
    tasks = []
    for _ in range(n):
        lots = triple(rng)
        i, j = rng.choice(3, 2, replace=False)
        tasks.append(make(lots[i], lots[j]))
    return tasks


def parse(text: str) -> str | None:
    return parse_letter(text, OPTIONS)
