"""Full insurance: pay a sure premium, or decline and bear a loss L with probability q.

"buy" is the sure lottery -premium, "decline" is q chance of -L: the lottery-based `solve`
applies as is. A risk-neutral agent buys exactly when the premium is at most q·L; risk
aversion adds a willingness to pay above the expected loss.
"""

from __future__ import annotations

import numpy as np

from econalign.preferences.base import Lottery
from econalign.tasks.base import Task, money, parse_choice, percent

FAMILY = "insurance"
OPTIONS = ["buy", "decline"]
INSTRUCTION = "Answer with one word: buy or decline."
PATTERNS = {"buy": r"\b(?:buy(?:s|ing)?|bought)\b", "decline": r"\bdeclin(?:e|es|ed|ing)\b"}
LOSS_PROBS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5)


def make(wealth: float, loss: float, prob: float, premium: float, system: str | None = None) -> Task:
    prompt = (
        f"You have {money(wealth)}. There is a {percent(prob)} chance that you lose {money(loss)}.\n"
        f"Full insurance against this loss costs {money(premium)}: if you buy it, you pay "
        f"{money(premium)} for certain and any loss is covered.\n"
        "Do you buy the insurance or decline it?"
    )
    return Task(
        id=f"{FAMILY}-w{wealth:g}-l{loss:g}-q{prob:g}-p{premium:g}",
        family=FAMILY,
        params={
            "wealth": float(wealth),
            "loss": float(loss),
            "prob": float(prob),
            "premium": float(premium),
            "options": {"buy": Lottery.sure(-premium).to_list(), "decline": Lottery.binary(prob, -loss, 0.0).to_list()},
        },
        prompt=prompt,
        options=list(OPTIONS),
        instruction=INSTRUCTION,
        system=system,
    )


def generate(n: int, rng: np.random.Generator) -> list[Task]:
    """n random items: losses on a $100 grid, premiums from half to twice the expected loss
    (subsidised to loaded), wealth $250-$10,000 above the loss so final wealth stays positive."""
    tasks = []
    for _ in range(n):
        loss = float(rng.integers(1, 101) * 100)
        prob = float(LOSS_PROBS[rng.integers(len(LOSS_PROBS))])
        premium = max(1.0, float(np.round(prob * loss * rng.uniform(0.5, 2.0))))
        wealth = loss + float(rng.integers(1, 41) * 250)
        tasks.append(make(wealth, loss, prob, premium))
    return tasks


def parse(text: str) -> str | None:
    return parse_choice(text, PATTERNS)
