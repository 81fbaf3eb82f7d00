"""Giving according to GARP (Andreoni & Miller 2002): tokens divided between yourself and another person.

The chooser holds 10 tokens. Each token kept is worth $a to the chooser, each token passed $b to the
other person, who makes no decision. Passing t tokens pays (own, other) = (a·(10 - t), b·t), a point of
the budget line own + p·other = 10·a, where p = a/b is the price of giving (what a dollar for the other
person costs the chooser). Andreoni and Miller vary the tokens (40–100) and their values (1–3 points); only
the line in payoff space matters, so here the endowment is always 10 tokens (a number of tokens in an
answer is then an allocation, whatever the budget) and the incomes vary with the tokens' values.

The eleven allocations, pass 0, 1, ..., 10 tokens, are lettered A to L without I (the budget family's
letters). Each budget is asked twice: `swapped` asks how many tokens the chooser keeps instead of how many
they pass, so the letters run the other way along the line and a preference for early letters shows up as
a lean, not as a demand. An answer names a letter, a number of tokens or a percentage of them (of what
the question asks about).

Options are `SocialOption`s, chooser first, so homo moralis and Fehr–Schmidt agents answer them. The
Kantian payoff is the dictator game's (tasks/games.py): behind the veil of who divides, everyone acting
like the chooser gets the mean of the two payoffs. Homo moralis then values an allocation at
(1 - κ/2)·own + (κ/2)·other and passes everything iff κ > 2p/(1 + p); homo kantiensis maximises the sum
(Andreoni–Miller's perfect substitutes). Fehr–Schmidt passes nothing iff β/(1 - β) < p, else passes up to
equal payoffs (Leontief where β/(1 - β) exceeds every price); α never moves the demand, since passing
beyond equal payoffs lowers the chooser's payoff and widens the other's lead.
"""

from __future__ import annotations

import re

import numpy as np

from econalign.preferences.social import SocialOption, SocialPreference
from econalign.tasks import social
from econalign.tasks.base import Task, letter_or_amount, money
from econalign.tasks.budget import LETTERS

FAMILY = "giving"
PREFERENCE = SocialPreference
TOKENS = 10
AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s?(%|percent\b|tokens?\b)", re.IGNORECASE)


def payoffs(passed: float, values: tuple[float, float]) -> tuple[float, float]:
    """(own, other) when `passed` of the tokens go to the other person."""
    keep, give = values
    return keep * (TOKENS - passed), give * passed


def option(passed: float, values: tuple[float, float]) -> SocialOption:
    own, other = payoffs(passed, values)
    return SocialOption.sure([own, other], (own + other) / 2)


def tokens_text(n: int) -> str:
    return f"{n} token" + ("" if n == 1 else "s")


def make(values: tuple[float, float], swapped: bool = False) -> Task:
    """A budget: each kept token worth values[0] to the chooser, each passed one values[1] to the other;
    `swapped` asks for the tokens kept (letter A keeps none), else for the tokens passed (A passes none)."""
    keep, give = map(float, values)
    asked, rest = ("keep", "pass") if swapped else ("pass", "keep")
    menu = []
    for n in range(TOKENS + 1):
        passed = TOKENS - n if swapped else n
        own, other = payoffs(passed, (keep, give))
        menu.append((f"{asked} {tokens_text(n)}, {rest} {TOKENS - n}",
                     f"you get {money(own)}, the other person gets {money(other)}", option(passed, (keep, give)),
                     passed / TOKENS))
    ask = ("How many tokens do you keep? You pass the rest to the other person." if swapped
           else "How many tokens do you pass to the other person? You keep the rest.")
    question = (f"You have {TOKENS} tokens to divide between yourself and another person. Each token you keep is worth "
                f"{money(keep)} to you; each token you pass is worth {money(give)} to the other person. The other "
                f"person makes no decision. {ask}")
    params = {"keep_value": keep, "pass_value": give, "price": keep / give, "tokens": TOKENS, "swapped": swapped}
    return social.menu_task(f"{FAMILY}-a{keep:g}-b{give:g}{'-swap' if swapped else ''}", FAMILY, params, question,
                            menu, letters=LETTERS)


def values(task: Task) -> tuple[float, float]:
    return task.params["keep_value"], task.params["pass_value"]


def equal_share(values: tuple[float, float]) -> float:
    """The share of the tokens passed that equalises the payoffs: a·(10 - t) = b·t."""
    keep, give = values
    return keep / (keep + give)


def demand(task: Task, pref: SocialPreference) -> float:
    """The share of the tokens `pref` likes best to pass, anywhere on the line (the least giving of the
    best shares where it is indifferent). Exact: a social preference is linear in an option's features,
    which are linear in the share except for a kink at equal payoffs, so the best share is 0, 1 or that kink."""
    shares = sorted({0.0, equal_share(values(task)), 1.0})
    utilities = [pref.value(option(s * TOKENS, values(task))) for s in shares]
    return shares[int(np.argmax(utilities))]


def solve(task: Task, pref: SocialPreference) -> Task:
    """Each allocation's utility under `pref`, the best one, and the exact demand off the grid (`demand`)."""
    social.solve(task, pref)
    task.params["demand"] = demand(task, pref)
    return task


def tokens(text: str) -> float | None:
    """The tokens an answer names of what the question asks about (passed, or kept where swapped): a
    letter's count, or one amount ("3 tokens", "30%")."""
    return letter_or_amount(text, LETTERS, range(TOKENS + 1), lambda t: (
        float(n) * (1 if unit.lower().startswith("token") else TOKENS / 100) for n, unit in AMOUNT.findall(t)), TOKENS)


def parse(text: str) -> str | None:
    """The allocation nearest the answer's amount (the battery reads the exact amount with `tokens`)."""
    amount = tokens(text)
    return None if amount is None else LETTERS[int(np.argmin(np.abs(np.arange(TOKENS + 1) - amount)))]


def generate(n: int, rng: np.random.Generator) -> list[Task]:
    """n random budgets, token values $1–$6 each (prices of giving 1/6 to 6), in a random order."""
    return [make(tuple(float(v) for v in rng.integers(1, 7, 2)), swapped=bool(rng.integers(2))) for _ in range(n)]
